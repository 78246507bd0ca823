// Opens LISTENERS connections to one namespace and counts the `message` events each one
// receives. Prints {"ready":true} once all are connected, {"done":true} once every one
// has EXPECT messages, and when stdin closes the counts, with the first ids each listener
// short of EXPECT missed and why each one that disconnected did.
import { io } from 'socket.io-client';

const env = process.env;
const n = Number(env.LISTENERS || 100);
const expect = Number(env.EXPECT || 0);
const counts = new Array(n).fill(0);
const lastSeq = new Array(n).fill(-1);
const seen = Array.from({ length: n }, () => new Set());
const disconnects = {};
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
  s.on('disconnect', (reason) => { disconnects[i] = reason; });
  s.on('message', (data) => {
    const seq = Number(data.message.id);
    seen[i].add(seq);
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
  const missed = {};
  counts.forEach((c, i) => {
    if (c >= expect) return;
    missed[i] = [];
    for (let k = 0; k < expect && missed[i].length < 10; k++) if (!seen[i].has(k)) missed[i].push(k);
  });
  process.stdout.write(JSON.stringify({ counts, outOfOrder, missed, disconnects }) + '\n');
  sockets.forEach((s) => s.close());
  process.exit(0);
});
