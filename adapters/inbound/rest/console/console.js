// wagate console: links devices, shows their events and sends a test message, through
// the public REST API (X-API-Key) and Socket.io (auth: {apiKey}) only. The key lives in
// this tab's session storage: never in a URL, a cookie or the page's address.
import { io } from './socket.io.esm.min.js';

const KEY = 'wagate.apiKey';
const MAX_EVENTS = 500; // the log keeps the newest, so a chatty device cannot fill memory
const EVENTS = ['state', 'qr', 'authenticated', 'ready', 'message', 'disconnected'];

const $ = (id) => document.getElementById(id);
const s = {
  key: null,
  devices: new Map(), // id → device, as the REST API returns it
  rows: new Map(),    // id → its <li> in the list
  names: new Map(),    // id → the clientName of its authenticated event, until the device has one
  statusAt: new Map(), // id → {id, at}: the eventId and timestamp of the last state event applied
  selected: null,
  root: null,         // the socket on /, for every device's status
  socket: null,       // the socket on /device/<selected>, for its events
  qrSeq: 0, qrURL: null, qrTimer: null, expiresAt: 0,
  events: [],
};

class APIError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function api(method, path, body, as = 'json') {
  const headers = { 'X-API-Key': s.key };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch('/api/v1' + path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    cache: 'no-store', credentials: 'omit',
  });
  if (!res.ok) {
    let code = 'http_' + res.status, message = res.statusText || 'Request failed';
    try {
      ({ code, message } = (await res.json()).error);
    } catch { /* not the API's error shape: keep the HTTP status */ }
    throw new APIError(res.status, code, message);
  }
  if (res.status === 204) return null;
  return as === 'blob' ? res.blob() : res.json();
}

function showError(err, context) {
  let text = err instanceof APIError && err.status === 401
    ? `The gateway refused this API key: ${err.message}.`
    : err.message || String(err);
  if (context) text = `${context}: ${text}`;
  $('error').textContent = text;
  $('error').hidden = false;
}

function clearError() {
  $('error').hidden = true;
  $('error').textContent = '';
}

// run calls fn, showing what went wrong instead of losing it in the console.
async function run(fn, context) {
  clearError();
  try {
    return await fn();
  } catch (err) {
    showError(err, context);
  }
}

// --- Signing in and out ----------------------------------------------------------

async function signIn(key) {
  s.key = key;
  try {
    await loadDevices();
  } catch (err) {
    s.key = null;
    sessionStorage.removeItem(KEY);
    showError(err, 'Sign-in failed');
    $('api-key').focus();
    return;
  }
  clearError();
  sessionStorage.setItem(KEY, key);
  $('api-key').value = '';
  $('sign-in').hidden = true;
  $('workspace').hidden = false;
  $('sign-out').hidden = false;
  listenToAll();
  $('new-name').focus();
}

function signOut() {
  sessionStorage.removeItem(KEY);
  select(null);
  s.root?.disconnect();
  s.root = null;
  s.key = null;
  s.devices.clear();
  s.rows.clear();
  $('devices').replaceChildren();
  $('workspace').hidden = true;
  $('sign-out').hidden = true;
  $('sign-in').hidden = false;
  $('live').textContent = '';
  $('api-key').focus();
}

// --- Devices -----------------------------------------------------------------------

async function loadDevices() {
  const page = await api('GET', '/devices?limit=500');
  const seen = new Set();
  for (const d of page.devices) {
    seen.add(d.id);
    putDevice(d);
  }
  for (const id of [...s.devices.keys()]) if (!seen.has(id)) dropDevice(id);
  $('more-devices').hidden = page.total <= page.devices.length;
  $('more-devices').textContent = `Showing the first ${page.devices.length} of ${page.total} devices.`;
}

// putDevice shows a device read from the REST API. An answer can arrive after a state
// event that is newer than what it read (connect answers "connecting" while "pairing" is
// already there): its status counts only when the device changed after that event.
function putDevice(d) {
  const prev = s.devices.get(d.id);
  if (prev && Date.parse(d.updatedAt) <= (s.statusAt.get(d.id)?.at ?? 0)) d = { ...d, status: prev.status };
  showRow(d);
}

function showRow(d) {
  s.devices.set(d.id, d);
  let li = s.rows.get(d.id);
  if (!li) {
    li = document.createElement('li');
    const open = document.createElement('button');
    open.type = 'button';
    open.className = 'link';
    open.addEventListener('click', () => select(d.id));
    const status = document.createElement('span');
    status.className = 'status';
    li.append(open, status);
    s.rows.set(d.id, li);
    $('devices').append(li);
  }
  const [open, status] = li.children;
  open.textContent = d.name;
  open.setAttribute('aria-label', `${d.name}: ${d.status}`);
  status.textContent = d.status;
  status.className = 'status ' + d.status;
  li.setAttribute('aria-current', String(d.id === s.selected));
  $('no-devices').hidden = s.devices.size > 0;
  if (d.id === s.selected) showDevice(d);
}

function dropDevice(id) {
  s.devices.delete(id);
  s.statusAt.delete(id);
  s.names.delete(id);
  s.rows.get(id)?.remove();
  s.rows.delete(id);
  $('no-devices').hidden = s.devices.size > 0;
  if (id === s.selected) select(null);
}

// refresh reads a device again (its phone number and name after linking).
async function refresh(id) {
  try {
    putDevice(await api('GET', `/devices/${id}`));
  } catch (err) {
    if (err.status === 404) dropDevice(id);
    else showError(err);
  }
}

// setStatus applies a state event, unless a later one was applied: both namespaces send
// each, and not in the same order. eventIds grow in commit order.
function setStatus(e) {
  const d = s.devices.get(e.deviceId);
  const id = BigInt(e.eventId || 0);
  if (!d || id < (s.statusAt.get(e.deviceId)?.id ?? 0n)) return;
  s.statusAt.set(e.deviceId, { id, at: e.timestamp });
  showRow({ ...d, status: e.status });
}

function showDevice(d) {
  $('device-title').textContent = d.name;
  $('device-status').textContent = d.status;
  $('device-status').className = 'status ' + d.status;
  $('device-phone').textContent = d.phoneNumber ? '+' + d.phoneNumber : '–';
  $('device-pushname').textContent = d.businessName || d.pushName || s.names.get(d.id) || '–';
  $('device-id').textContent = d.id;
  $('connect').disabled = ['connecting', 'pairing', 'authenticated', 'ready'].includes(d.status);
  $('disconnect').disabled = !['connecting', 'pairing', 'authenticated', 'ready'].includes(d.status);
  $('logout').disabled = !d.phoneNumber && d.status !== 'ready';
  const pairing = d.status === 'pairing';
  if (pairing && $('linking').hidden) showQR(d.id);
  $('linking').hidden = !pairing;
  if (!pairing) hideQR();
}

// The root namespace tells every device's status; it sends no welcome, so the list
// is read again whenever it (re)connects.
function listenToAll() {
  const root = listen('/');
  s.root = root;
  root.on('connect', () => {
    $('live').textContent = 'Live';
    loadDevices().catch((err) => showError(err));
  });
  $('live').textContent = 'Connecting…';
  root.on('disconnect', (reason) => {
    // The gateway lets go of a revoked key's listeners for good; anything else reconnects.
    $('live').textContent = reason === 'io server disconnect' ? 'Disconnected by the gateway' : 'Reconnecting…';
  });
  root.on('state', (e) => {
    if (!s.devices.has(e.deviceId)) refresh(e.deviceId); // created elsewhere
    else setStatus(e);
  });
  root.on('authenticated', (e) => {
    s.names.set(e.deviceId, e.clientName);
    refresh(e.deviceId);
  });
  root.on('ready', (e) => refresh(e.deviceId));
  root.on('disconnected', (e) => (e.reason === 'deleted' ? dropDevice(e.deviceId) : refresh(e.deviceId)));
}

// listen opens a namespace. A device's gets a connection of its own: when the device is
// deleted the gateway ends its listeners' connection, which would take / down with it.
function listen(namespace) {
  const socket = io(namespace, { path: '/ws', auth: { apiKey: s.key }, forceNew: namespace !== '/' });
  socket.on('connect_error', (err) => showError(err, `Live events (${namespace})`));
  return socket;
}

// --- The selected device -------------------------------------------------------------

function select(id) {
  s.socket?.disconnect();
  s.socket = null;
  hideQR();
  $('linking').hidden = true;
  $('pair-code').hidden = true;
  $('send-result').textContent = '';
  s.events = [];
  $('event-log').replaceChildren();
  s.selected = id;
  for (const [rid, li] of s.rows) li.setAttribute('aria-current', String(rid === id));
  const d = id && s.devices.get(id);
  $('device').hidden = !d;
  $('events').hidden = !d;
  if (!d) return;
  $('rename').value = d.name;
  showDevice(d);
  const socket = listen(`/device/${id}`);
  s.socket = socket;
  for (const name of EVENTS) socket.on(name, (e) => onDeviceEvent(socket, name, e));
  $('device-title').focus?.();
}

function onDeviceEvent(socket, name, e) {
  if (socket !== s.socket) return; // a late event of the device shown before
  logEvent(name, e);
  switch (name) {
    case 'state': setStatus(e); break;
    case 'qr': showQR(e.deviceId); break;
    case 'authenticated':
      hideQR();
      $('qr-caption').textContent = `Authenticated as +${e.phoneNumber} (${e.clientName || 'no name'})…`;
      break;
    case 'ready': refresh(e.deviceId); break;
  }
}

// showQR draws the current code: the REST API renders it as a PNG, fetched with the key
// header (an <img> could only send it in the URL) and shown through a blob: URL.
async function showQR(id) {
  const seq = ++s.qrSeq;
  try {
    const [info, png] = await Promise.all([
      api('GET', `/devices/${id}/qr`),
      api('GET', `/devices/${id}/qr?format=png&size=512`, undefined, 'blob'),
    ]);
    if (seq !== s.qrSeq || id !== s.selected) return;
    hideQR();
    s.qrURL = URL.createObjectURL(png);
    $('qr').src = s.qrURL;
    $('qr').hidden = false;
    s.expiresAt = Date.parse(info.expiresAt);
    tick();
    s.qrTimer = setInterval(tick, 1000);
  } catch (err) {
    // 404: between two codes; 409: no longer pairing. The next event says what follows.
    if (err.status !== 404 && err.status !== 409) showError(err, 'QR code');
  }
}

function tick() {
  const left = Math.round((s.expiresAt - Date.now()) / 1000);
  $('qr-caption').textContent = left > 0
    ? `Scan within ${left} s`
    : 'This code expired: a new one follows while the device is pairing.';
}

function hideQR() {
  clearInterval(s.qrTimer);
  s.qrTimer = null;
  if (s.qrURL) URL.revokeObjectURL(s.qrURL);
  s.qrURL = null;
  $('qr').hidden = true;
  $('qr').removeAttribute('src');
  $('qr-caption').textContent = 'Waiting for a QR code…';
}

// --- The event log -----------------------------------------------------------------------

function summary(name, e) {
  switch (name) {
    case 'state': return e.status;
    case 'qr': return 'a new QR code';
    case 'authenticated': return `+${e.phoneNumber} ${e.clientName || ''}`;
    case 'ready': return e.phoneNumber ? '+' + e.phoneNumber : '';
    case 'disconnected': return e.reason;
    case 'message': {
      const m = e.message;
      const from = m.fromMe ? 'me' : (m.sender.phoneNumber ? '+' + m.sender.phoneNumber : m.sender.jid);
      return `${from}: ${m.text ?? m.caption ?? '[' + m.type + ']'}`;
    }
  }
  return '';
}

function logEvent(name, e) {
  const json = JSON.stringify(e, null, 2);
  const li = document.createElement('li');
  li.dataset.event = name;
  li.dataset.text = (name + ' ' + json).toLowerCase();
  const details = document.createElement('details');
  const head = document.createElement('summary');
  const time = document.createElement('time');
  const at = new Date(e.timestamp || Date.now());
  time.dateTime = at.toISOString();
  time.textContent = at.toLocaleTimeString();
  const label = document.createElement('span');
  label.className = 'name';
  label.textContent = name;
  const text = document.createElement('span');
  text.textContent = summary(name, e);
  head.append(time, label, text);
  const pre = document.createElement('pre');
  pre.textContent = json;
  details.append(head, pre);
  li.append(details);
  li.hidden = !matches(li);
  s.events.push(li);
  $('event-log').prepend(li); // newest first
  if (s.events.length > MAX_EVENTS) s.events.shift().remove();
}

function matches(li) {
  const type = $('event-type').value;
  const text = $('event-filter').value.trim().toLowerCase();
  return (!type || li.dataset.event === type) && (!text || li.dataset.text.includes(text));
}

function filterEvents() {
  for (const li of s.events) li.hidden = !matches(li);
}

// --- Wiring ------------------------------------------------------------------------------

function onSubmit(id, fn) {
  $(id).addEventListener('submit', (ev) => {
    ev.preventDefault();
    const button = ev.target.querySelector('button[type=submit]');
    button.disabled = true;
    fn(new FormData(ev.target)).finally(() => { button.disabled = false; });
  });
}

function onClick(id, fn) {
  $(id).addEventListener('click', () => run(fn));
}

const device = () => `/devices/${s.selected}`;

onSubmit('key-form', (f) => signIn(String(f.get('apiKey')).trim()));
$('sign-out').addEventListener('click', signOut);

onSubmit('create-form', (f) => run(async () => {
  const d = await api('POST', '/devices', { name: f.get('name') });
  putDevice(d);
  $('new-name').value = '';
  select(d.id);
}, 'Create'));

onSubmit('rename-form', (f) => run(async () => putDevice(await api('PATCH', device(), { name: f.get('name') })), 'Rename'));

onClick('connect', async () => putDevice(await api('POST', device() + '/connect')));
onClick('disconnect', async () => putDevice(await api('POST', device() + '/disconnect')));
onClick('logout', async () => {
  if (confirm('Unlink this device from its WhatsApp account?')) putDevice(await api('POST', device() + '/logout'));
});
onClick('delete', async () => {
  const id = s.selected;
  if (!confirm(`Delete ${s.devices.get(id).name}? Its WhatsApp session ends and its data is removed.`)) return;
  await api('DELETE', device());
  dropDevice(id);
});

onSubmit('pair-form', (f) => run(async () => {
  const { code } = await api('POST', device() + '/pair-code', { phoneNumber: f.get('phoneNumber') });
  $('pair-code').textContent = `Enter ${code} on the phone: Linked devices › Link with phone number instead`;
  $('pair-code').hidden = false;
}, 'Pairing code'));

onSubmit('send-form', (f) => run(async () => {
  $('send-result').textContent = 'Sending…';
  try {
    const r = await api('POST', device() + '/messages', { to: f.get('to'), text: f.get('text') });
    $('send-result').textContent = `Sent to ${r.to} (message ${r.id}).`;
  } catch (err) {
    $('send-result').textContent = '';
    throw err;
  }
}, 'Send'));

$('event-type').addEventListener('change', filterEvents);
$('event-filter').addEventListener('input', filterEvents);
$('clear-events').addEventListener('click', () => {
  s.events = [];
  $('event-log').replaceChildren();
});

const saved = sessionStorage.getItem(KEY);
if (saved) signIn(saved);
else $('api-key').focus();
