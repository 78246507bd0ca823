// A listener that resumes, using the real socket.io-client: it prints one JSON line per
// connect ({event, recovered}) and per event ({event, eventId, args}, args being how
// many arguments the handler got), and cuts its transport when it reads "cut" on stdin
// (the client then reconnects on its own). It exits when stdin closes.
//
//   WAGATE_URL=... NAMESPACE=/device/<id> API_KEY=... RECOVER=1 LAST_EVENT_ID=42 node resume.mjs
import { io } from 'socket.io-client';
import { createInterface } from 'node:readline';

const env = process.env;
const auth = { apiKey: env.API_KEY };
if (env.RECOVER === '1') auth.recover = true;
if (env.LAST_EVENT_ID) auth.lastEventId = env.LAST_EVENT_ID;
const socket = io(env.WAGATE_URL + (env.NAMESPACE || '/'), {
  path: '/ws', forceNew: true, transports: ['websocket'], auth,
  reconnectionDelay: 200, reconnectionDelayMax: 200,
});
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
socket.on('connect', () => out({ event: 'connect', recovered: socket.recovered }));
socket.on('connect_error', (err) => out({ event: 'connect_error', message: err.message }));
socket.on('disconnect', (reason) => out({ event: 'disconnect', reason }));
for (const name of ['qr', 'ready', 'authenticated', 'message', 'state', 'disconnected', 'receipt']) {
  socket.on(name, (...args) => out({ event: name, eventId: args[0].eventId, args: args.length }));
}
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => { if (line === 'cut') socket.io.engine.close(); });
lines.on('close', () => { socket.close(); process.exit(0); });
