// The reference the load generator (bench/loadgen) measures wagate against: a Node.js
// socket.io server as a user would write it, with what bench/gateway does: device
// namespaces /device/<uuid> whose listeners present the key in auth.apiKey (or the
// apiKey query parameter), a `state` event on connect, and GET /bench/publish, which
// emits the same `message` payload (bench/internal/fixture) to each device's namespace.
import { createServer } from 'node:http';
import { Server } from 'socket.io';

const key = process.env.BENCH_KEY ?? 'bench-key';
const deviceId = (n) => '00000000-0000-4000-8000-' + String(n).padStart(12, '0');
const now = () => Math.round((performance.timeOrigin + performance.now()) * 1000); // µs

const http = createServer(control);
const io = new Server(http, {
  path: '/ws',
  serveClient: false,
  maxHttpBufferSize: 16 << 10,
  pingInterval: 25000,
  pingTimeout: 20000,
  connectTimeout: 10000,
  cleanupEmptyChildNamespaces: true,
});

const apiKey = (s) => s.handshake.auth?.apiKey || s.handshake.query.apiKey || s.handshake.headers['x-api-key'];
const check = (s, next) => (apiKey(s) === key ? next() : next(new Error('Invalid API key')));
io.use(check);
const devices = io.of(/^\/device\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
devices.use(check);
devices.on('connection', (s) => {
  const id = s.nsp.name.slice('/device/'.length);
  s.emit('state', { eventId: String(eventId), deviceId: id, timestamp: new Date().toISOString(), status: 'disconnected' });
});

let eventId = 0;
let busy = Promise.resolve();

function publish(id, seq) {
  eventId++;
  const nsp = io._nsps.get('/device/' + id);
  if (!nsp) return;
  nsp.emit('message', {
    eventId: String(eventId),
    deviceId: id,
    timestamp: '2026-11-29T12:00:00.000Z',
    message: {
      id: '3EB0C767D26A1F3B2F4E8C',
      from: '15550001111@s.whatsapp.net',
      chat: '15550001111@s.whatsapp.net',
      pushName: 'Bench Contact',
      type: 'text',
      text: 'Hello from the benchmark: this is a message of ordinary length, with a sentence or two, as people write them to a shop or a support line.',
      timestamp: '2026-11-29T12:00:00.000Z',
    },
    seq,
    sent: now(),
  });
}

// pace publishes total events, rate a second (0: in chunks, yielding to the event loop
// between them so that sockets are written meanwhile, as a server fed events would).
function pace(n, count, rate) {
  const ids = Array.from({ length: n }, (_, i) => deviceId(i + 1));
  const total = n * count;
  return new Promise((resolve) => {
    let i = 0;
    const start = performance.now();
    const step = () => {
      const due = rate === 0 ? Math.min(total, i + 64) : Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate) + 1);
      for (; i < due; i++) publish(ids[i % n], Math.floor(i / n));
      if (i >= total) resolve();
      else if (rate === 0) setImmediate(step);
      else setTimeout(step, 1);
    };
    step();
  });
}

function control(req, res) {
  const url = new URL(req.url, 'http://localhost');
  if (url.pathname !== '/bench/publish') {
    if (!req.url.startsWith('/ws/')) res.writeHead(404).end();
    return;
  }
  const [n, count, rate] = ['devices', 'count', 'rate'].map((p) => Number(url.searchParams.get(p)));
  if (!(n >= 1 && count >= 1 && rate >= 0)) return res.writeHead(400).end('devices, count and rate are numbers\n');
  const start = performance.now();
  busy = busy.then(() => pace(n, count, rate)).then(() => res.end(`${(performance.now() - start).toFixed(1)}ms\n`));
}

http.listen(0, '127.0.0.1', () => console.log('listening', http.address().port));
