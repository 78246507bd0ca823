// A Socket.io listener for the gateway's tests, using the real socket.io-client. It
// prints one JSON line per thing that happens and exits when its stdin closes.
//
//   WAGATE_URL=http://127.0.0.1:3000 NAMESPACE=/device/<id> API_KEY=... \
//   TRANSPORTS=websocket|polling|default AUTH=query|auth|header|none RECOVER=1 node listen.mjs
//
// RECOVER=1 opts in to connection state recovery (auth.recover): after a reconnection the
// connect line says whether the client recovered what it missed.
import { io } from 'socket.io-client';

const env = process.env;
const options = { path: '/ws', reconnection: env.RECONNECT === '1', forceNew: true };
switch (env.AUTH || 'query') {
  case 'query': options.query = { apiKey: env.API_KEY }; break;
  case 'auth': options.auth = { apiKey: env.API_KEY }; break;
  case 'header': options.extraHeaders = { 'x-api-key': env.API_KEY }; break;
}
if (env.RECOVER === '1') options.auth = { ...options.auth, recover: true };
if (env.TRANSPORTS === 'websocket') options.transports = ['websocket'];
if (env.TRANSPORTS === 'polling') options.transports = ['polling'];

const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const socket = io(env.WAGATE_URL + (env.NAMESPACE || '/'), options);
socket.on('connect', () => out({ event: 'connect', id: socket.id, transport: socket.io.engine.transport.name, recovered: socket.recovered }));
socket.io.engine?.on?.('upgrade', (t) => out({ event: 'upgrade', transport: t.name }));
socket.on('connect_error', (err) => out({ event: 'connect_error', message: err.message }));
socket.on('disconnect', (reason) => out({ event: 'disconnect', reason }));
for (const name of ['qr', 'ready', 'authenticated', 'message', 'state', 'disconnected', 'receipt']) {
  socket.on(name, (data) => out({ event: name, data }));
}
process.stdin.resume();
process.stdin.on('end', () => { socket.close(); process.exit(0); });
