// Opens LISTENERS connections to one namespace and counts the `message` events each one
// receives. Prints {"ready":true} once all are connected, {"done":true} once every one
// has EXPECT messages, and the counts when stdin closes.
import { io } from 'socket.io-client';

const env = process.env;
const n = Number(env.LISTENERS || 100);
const expect = Number(env.EXPECT || 0);
const counts = new Array(n).fill(0);
const lastSeq = new Array(n).fill(-1);
let outOfOrder = 0;
let connected = 0;
const sockets = [];
for (let i = 0; i < n; i++) {
  const s = io(env.WAGATE_URL + env.NAMESPACE, {
    path: '/ws', forceNew: true, reconnection: false,
    transports: env.TRANSPORTS === 'websocket' ? ['websocket'] : undefined,
    query: { apiKey: env.API_KEY },
  });
  s.on('connect', () => { if (++connected === n) process.stdout.write(JSON.stringify({ ready: true }) + '\n'); });
  s.on('connect_error', (err) => process.stdout.write(JSON.stringify({ error: err.message }) + '\n'));
  s.on('message', (data) => {
    const seq = Number(data.message.id);
    if (seq <= lastSeq[i]) outOfOrder++;
    lastSeq[i] = seq;
    if (++counts[i] === expect && counts.every((c) => c >= expect)) {
      process.stdout.write(JSON.stringify({ done: true }) + '\n');
    }
  });
  sockets.push(s);
}
process.stdin.resume();
process.stdin.on('end', () => {
  process.stdout.write(JSON.stringify({ counts, outOfOrder }) + '\n');
  sockets.forEach((s) => s.close());
  process.exit(0);
});
