// Listens to many namespaces over one connection (socket.io-client multiplexes the
// sockets of one Manager over one websocket), using the real socket.io-client. It prints
// one JSON line per connect and disconnect ({event, ns, reason}) and per event ({event,
// ns, eventId}), and exits
// when its stdin closes.
//
//   WAGATE_URL=... NAMESPACES=/device/<id>,/device/<id> API_KEY=... LAST_EVENT_ID=0 node listen-many.mjs
import { Manager } from 'socket.io-client';

const env = process.env;
const manager = new Manager(env.WAGATE_URL, { path: '/ws', transports: ['websocket'] });
const auth = { apiKey: env.API_KEY };
if (env.LAST_EVENT_ID) auth.lastEventId = env.LAST_EVENT_ID;
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const sockets = env.NAMESPACES.split(',').map((ns) => {
  const socket = manager.socket(ns, { auth });
  socket.on('connect', () => out({ event: 'connect', ns }));
  socket.on('connect_error', (err) => out({ event: 'connect_error', ns, message: err.message }));
  socket.on('disconnect', (reason) => out({ event: 'disconnect', ns, reason }));
  for (const name of ['qr', 'ready', 'authenticated', 'message', 'state', 'disconnected', 'receipt']) {
    socket.on(name, (data) => out({ event: name, ns, eventId: data.eventId }));
  }
  return socket;
});
process.stdin.resume();
process.stdin.on('end', () => { sockets.forEach((s) => s.close()); process.exit(0); });
