// Drives the web console (/console) in Debian's Chromium with playwright-core, for
// test/e2e/console_test.go. It prints one JSON line per step ({step, ...}, with the path
// of the step's screenshot) and reads JSON lines on stdin when the Go side must act
// first; on failure it prints {step: "error", message} and exits 1.
//
//   WAGATE_URL=http://127.0.0.1:3000 API_KEY=... CONTACT=+15550002222 CODE_PHONE=+15550003333 \
//   ARTIFACTS=/tmp/shots node console.mjs
import { chromium } from 'playwright-core';
import readline from 'node:readline';
import path from 'node:path';

const env = process.env;
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const input = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const command = async () => {
  const { value, done } = await input.next();
  if (done) throw new Error('stdin closed: the test ended');
  return JSON.parse(value);
};

const browser = await chromium.launch({
  executablePath: env.CHROMIUM || '/usr/bin/chromium',
  headless: true, // playwright adds --headless and a fresh --user-data-dir of its own
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
page.setDefaultTimeout(20_000);

// What the page must never do: break its own Content-Security-Policy, or throw.
const problems = [];
page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) problems.push(m.text()); });
page.on('pageerror', (err) => problems.push(String(err)));
page.on('dialog', (d) => d.accept());
const sockets = [];
page.on('websocket', (ws) => sockets.push(new URL(ws.url()).pathname));

let shots = 0;
const step = async (name, fields = {}) => {
  const file = path.join(env.ARTIFACTS, `${String(++shots).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  out({ step: name, screenshot: file, ...fields });
};

try {
  await page.goto(env.WAGATE_URL + '/');
  if (new URL(page.url()).pathname !== '/console') throw new Error(`/ led to ${page.url()}`);
  await step('sign-in');

  await page.getByLabel('API key').fill('not-the-key-0123456789abcdef0123456789');
  await page.getByRole('button', { name: 'Sign in' }).click();
  const alert = page.getByRole('alert');
  await alert.waitFor();
  await step('wrong-key', { message: await alert.textContent(), workspaceHidden: await page.locator('#workspace').isHidden() });

  await page.getByLabel('API key').fill(env.API_KEY);
  await page.getByLabel('API key').press('Enter'); // from the keyboard
  await page.locator('#live', { hasText: 'Live' }).waitFor();
  await step('signed-in', { sockets, alertHidden: await alert.isHidden(), keyInURL: page.url().includes(env.API_KEY) });

  await page.getByLabel('Device name').fill('Console phone');
  await page.getByRole('button', { name: 'Create' }).click();
  await page.getByRole('heading', { name: 'Console phone' }).waitFor();
  const id = await page.locator('#device-id').textContent();
  await page.getByRole('button', { name: 'Connect', exact: true }).click();
  await page.waitForFunction(() => {
    const img = document.getElementById('qr');
    return !img.hidden && img.src.startsWith('blob:') && img.complete && img.naturalWidth > 0;
  });
  await page.locator('#qr-caption', { hasText: /Scan within \d+ s/ }).waitFor();
  // What the page draws, one character per pixel ('1' dark), for the Go side to compare
  // with the code the gateway holds.
  const drawn = await page.evaluate(() => {
    const img = document.getElementById('qr');
    const canvas = document.createElement('canvas');
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    const g = canvas.getContext('2d');
    g.drawImage(img, 0, 0);
    const rgba = g.getImageData(0, 0, canvas.width, canvas.height).data;
    let bits = '';
    for (let i = 0; i < rgba.length; i += 4) bits += rgba[i] < 128 ? '1' : '0';
    return { width: canvas.width, bits };
  });
  await step('qr', { id, drawn, caption: await page.locator('#qr-caption').textContent() });

  // The Go side scans the code; the list (root namespace) and the device's panel
  // (its namespace) follow it to ready.
  await page.getByRole('button', { name: 'Console phone: ready' }).waitFor({ timeout: 30_000 });
  await page.locator('#device-status', { hasText: /^ready$/ }).waitFor();
  await page.locator('#device-phone', { hasText: /^\+\d+$/ }).waitFor();
  const logged = await page.locator('#event-log li').evaluateAll((lis) => lis.map((li) => li.dataset.event).reverse());
  await step('ready', {
    phone: await page.locator('#device-phone').textContent(),
    pushName: await page.locator('#device-pushname').textContent(),
    events: logged,
  });

  const { text } = await command(); // the contact wrote this
  await page.locator('#event-log li', { hasText: text }).waitFor();
  await page.getByLabel('Event', { exact: true }).selectOption('message');
  await page.getByLabel('Filter').fill(text);
  const visible = await page.locator('#event-log li:visible').count();
  await page.locator('#event-log li:visible details summary').first().click(); // shows the JSON
  const json = await page.locator('#event-log li:visible pre').first().textContent();
  await step('message-in', { visible, json: JSON.parse(json) });

  await page.getByLabel('To (phone number)').fill(env.CONTACT);
  await page.getByLabel('Text', { exact: true }).fill('hi from the console');
  await page.getByRole('button', { name: 'Send', exact: true }).click();
  const result = page.locator('#send-result', { hasText: 'Sent to' });
  await result.waitFor();
  await step('sent', { result: await result.textContent() });

  // A second device, linked with a pairing code instead, then deleted.
  await page.getByLabel('Device name').fill('Code phone');
  await page.getByRole('button', { name: 'Create' }).click();
  await page.getByRole('heading', { name: 'Code phone' }).waitFor();
  await page.getByRole('button', { name: 'Connect', exact: true }).click();
  await page.locator('#qr-caption', { hasText: /Scan within/ }).waitFor();
  await page.getByLabel('Or link with a code: phone number').fill(env.CODE_PHONE);
  await page.getByRole('button', { name: 'Get pairing code' }).click();
  const shown = page.locator('#pair-code', { hasText: /[A-Z0-9]{4}-[A-Z0-9]{4}/ });
  await shown.waitFor();
  const code = (await shown.textContent()).match(/[A-Z0-9]{4}-[A-Z0-9]{4}/)[0];
  await step('pair-code', { code });
  await page.getByRole('button', { name: 'Code phone: ready' }).waitFor();
  await page.locator('#device-phone', { hasText: env.CODE_PHONE }).waitFor();
  await step('paired', { phone: await page.locator('#device-phone').textContent() });
  const codeID = await page.locator('#device-id').textContent();
  await page.getByRole('button', { name: 'Delete' }).click(); // the confirmation is accepted
  await page.getByRole('button', { name: /^Code phone:/ }).waitFor({ state: 'detached' });
  await page.waitForTimeout(500); // the gateway ends the deleted device's listeners now
  await step('deleted', {
    id: codeID, panelHidden: await page.locator('#device').isHidden(), live: await page.locator('#live').textContent(),
  });

  // A reload keeps the key for this tab (session storage), and nowhere else.
  await page.reload();
  await page.locator('#live', { hasText: 'Live' }).waitFor();
  const kept = {
    cookies: (await page.context().cookies()).length,
    localStorage: await page.evaluate(() => localStorage.length),
    keyInURL: page.url().includes(env.API_KEY),
  };
  await page.getByRole('button', { name: /^Console phone:/ }).click();
  await page.setViewportSize({ width: 390, height: 844 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  await step('phone', { overflow, kept });
  out({ step: 'done', problems });
} catch (err) {
  const file = path.join(env.ARTIFACTS, 'failure.png');
  await page.screenshot({ path: file, fullPage: true }).catch(() => {});
  out({ step: 'error', message: String(err.stack || err), screenshot: file, problems });
  await browser.close();
  process.exit(1);
}
while (!(await input.next()).done); // the test ends by closing stdin
await browser.close();
