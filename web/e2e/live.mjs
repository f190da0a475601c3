// Browser test against the REAL platform: this script starts `edalab up` (fresh data directory,
// free port), drives the UI in Debian's Chromium through playwright-core, restarts the server
// on the same port and data directory, and stops it. Issue 9's scenarios, for real:
//   1. the page loads from the gateway, the WebSocket connects, the graph has every pipeline;
//   2. start a simulation from the UI: status and counter change; edges animate with n/s labels
//      and node counters grow; screenshot; stop it: status changes, the counter stops;
//   3. produce one event: success toast, the "produced here" counter and the topic node grow;
//   4. a failed message reaches a DLQ and Redrive empties it: the S4 credit bureau is made to
//      fail (the Faults switch in the sidebar), an order's payment is retried then dead-lettered
//      to payments.dlq; the DLQ button/node shows depth 1 and the panel its reason; the failure
//      is switched off, the breaker shown leaving `open`, Redrive → toast, "Empty.", depth 0,
//      and the order is then authorized (the redrive really re-processed it);
//   5. issue 22: the ledger's consumer group paused (events wait as lag), resumed, scaled to 3
//      members holding 7 partitions each and back; the Lab panel lists the guides and opens one;
//   6. issue 23: the Topics panel counts a topic, shows its newest message decoded from Avro, and
//      its trace button filters by the trace id;
//   7. the WebSocket reconnects after the server restarts: SIGTERM, the header leaves
//      `connected`, `edalab up` again on the same port and data dir, the header comes back.
//
//   EDALAB_BIN=target/debug/edalab node e2e/live.mjs      (run from web/, after `npm run build`)
// Env: EDALAB_BIN (required), CHROMIUM (default /usr/bin/chromium),
//      EDALAB_SCREENSHOT (default <repo>/target/ui-live.png), DEBUG_E2E=1 for console output.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const bin = process.env.EDALAB_BIN && resolve(repo, process.env.EDALAB_BIN);
if (!bin) {
  console.error('EDALAB_BIN is required, e.g. EDALAB_BIN=target/debug/edalab');
  process.exit(2);
}
const shot = process.env.EDALAB_SCREENSHOT ?? join(repo, 'target/ui-live.png');
const t0 = Date.now();

const freePort = () =>
  new Promise((ok, fail) => {
    const s = createServer();
    s.on('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** `promise`, or `null` after `ms` (the timer does not keep the process alive afterwards). */
function within(promise, ms) {
  let timer;
  const late = new Promise((r) => (timer = setTimeout(() => r(null), ms)));
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}
const expect = (cond, msg) => {
  if (!cond) throw new Error(`live e2e: ${msg}`);
};

const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const data = mkdtempSync(join(tmpdir(), 'edalab-live-'));
const logPath = join(data, 'up.log');
let server = null;

/** Starts `edalab up` on `port` and `data` (cwd = repo, so it serves web/dist) and waits for health. */
async function startServer() {
  const log = openSync(logPath, 'a');
  server = spawn(bin, ['up', '--listen', `127.0.0.1:${port}`, '--data-dir', join(data, 'data')], {
    cwd: repo,
    stdio: ['ignore', log, log],
  });
  const exited = new Promise((r) => server.once('exit', (code, signal) => r({ code, signal })));
  server.exited = exited;
  const end = Date.now() + 60_000;
  while (Date.now() < end) {
    const done = await Promise.race([exited, sleep(100).then(() => null)]);
    if (done) throw new Error(`edalab up exited early (${JSON.stringify(done)}):\n${readFileSync(logPath, 'utf8')}`);
    const ok = await fetch(`${base}/api/v1/health`).then((r) => r.ok, () => false);
    if (ok) return;
  }
  throw new Error(`edalab up not healthy at ${base}:\n${readFileSync(logPath, 'utf8')}`);
}

/** SIGTERM (graceful stop) and wait; SIGKILL if it hangs. */
async function stopServer() {
  if (!server) return;
  const s = server;
  server = null;
  if (s.exitCode !== null || s.signalCode !== null) return;
  s.kill('SIGTERM');
  const done = await within(s.exited, 30_000);
  if (!done) {
    s.kill('SIGKILL');
    await s.exited;
    throw new Error('edalab up did not stop within 30 s of SIGTERM');
  }
}

/** JSON call to the real back end (what the test sets up around the UI). */
async function call(method, path, body) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} → ${res.status}: ${text}`);
  return JSON.parse(text);
}
async function until(what, fn, timeout = 15_000, every = 200) {
  const end = Date.now() + timeout;
  let last;
  while (Date.now() < end) {
    last = await fn().catch((e) => (last = e));
    if (last === true) return;
    await sleep(every);
  }
  throw new Error(`timed out waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
}

const steps = [];
const step = async (name, fn) => {
  const t = Date.now();
  await fn();
  steps.push(`${name} (${Date.now() - t} ms)`);
  console.log(`ok  ${name} (${Date.now() - t} ms)`);
};

let browser;
let page;
try {
  await step('edalab up starts on a fresh data dir', startServer);
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  page = await browser.newPage({ viewport: { width: 1600, height: 1100 } });
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  if (process.env.DEBUG_E2E) page.on('console', (m) => console.log('console:', m.text()));

  const text = async (loc) => ((await loc.first().textContent({ timeout: 2000 }).catch(() => '')) ?? '').trim();
  const waitText = (loc, re, timeout = 15_000) =>
    until(`${re}`, async () => re.test(await text(loc)) || `"${await text(loc)}"`, timeout, 100);
  const num = async (loc) => Number((await text(loc)).replace(/[^\d]/g, '') || 'NaN');
  const node = (label) => page.locator('.react-flow__node').filter({ has: page.locator(`span[title="${label}"]`) });
  const nodeCount = async (label) => Number(((await text(node(label))).match(/(\d+) msgs/) ?? [])[1] ?? NaN);
  const wsStatus = page.getByTestId('ws-status');
  const simStatus = page.getByTestId('sim-status');
  const simEvents = page.getByTestId('sim-events');

  await step('the gateway serves the UI; the WebSocket connects; every pipeline is drawn', async () => {
    await page.goto(base, { waitUntil: 'domcontentloaded' });
    const h1 = page.getByRole('heading', { level: 1 });
    await h1.waitFor({ timeout: 15_000 });
    expect((await h1.textContent())?.includes('edalab'), 'header title is not "edalab"');
    await waitText(wsStatus, /WebSocket: connected/);
    await page.locator('.react-flow__node').first().waitFor({ timeout: 15_000 });
    const nodes = await page.locator('.react-flow__node').count();
    expect(nodes >= 30, `only ${nodes} flow-graph nodes`);
    await waitText(simStatus, /^stopped$/);
    expect((await num(simEvents)) === 0, 'a fresh platform has produced events');
  });

  await step('start a simulation from the UI: status and counter change', async () => {
    await page.getByLabel('Scenario').selectOption('default');
    await page.getByLabel('Pattern', { exact: true }).selectOption('constant');
    await page.getByLabel('Rate (events/s), exact').fill('40');
    await page.getByLabel('Duration (s, 0 = forever)').fill('0');
    await page.getByRole('button', { name: /start simulation/i }).click();
    await page.getByTestId('toast-success').filter({ hasText: /Simulation .* started/ }).waitFor({ timeout: 10_000 });
    await waitText(simStatus, /^running$/);
    await until('events > 0', async () => (await num(simEvents)) > 0);
    const a = await num(simEvents);
    await until('the counter grows', async () => (await num(simEvents)) > a);
    const st = await call('GET', '/api/v1/simulation/status');
    expect(st.status === 'running' && st.rate === 40 && st.scenario === 'default', `status ${JSON.stringify(st)}`);
  });

  await step('during the simulation edges animate with n/s labels and node counters grow', async () => {
    await page.locator('.react-flow__edge.animated').first().waitFor({ timeout: 10_000 });
    await until('an edge label "n/s"', async () => {
      const labels = await page.locator('.react-flow__edge-text').allTextContents();
      return labels.some((l) => /^\d+\/s$/.test(l.trim())) || JSON.stringify(labels);
    });
    // The simulator node counts every banking event seen on the WebSocket.
    await until('simulator counter > 0', async () => (await nodeCount('simulator')) > 0);
    const before = await nodeCount('simulator');
    await until('simulator counter grows', async () => (await nodeCount('simulator')) > before);
    // The ledger's counter comes from /metrics (edalab_messages_consumed_total{service="ledger"}).
    await until('ledger counter > 0', async () => (await nodeCount('ledger')) > 0);
    const ledger = await nodeCount('ledger');
    await until('ledger counter grows', async () => (await nodeCount('ledger')) > ledger);
    await page.waitForTimeout(1200); // a full second of sparkline and rate before the picture
    mkdirSync(dirname(shot), { recursive: true });
    await page.screenshot({ path: shot, fullPage: true });
  });

  await step('stop the simulation: status changes and the counter stops', async () => {
    await page.getByRole('button', { name: /stop simulation/i }).click();
    await page.getByTestId('toast-success').filter({ hasText: /Simulation stopped after \d+ events/ }).waitFor({ timeout: 10_000 });
    await waitText(simStatus, /^stopped$/);
    const stopped = await num(simEvents);
    await page.waitForTimeout(1500);
    expect((await num(simEvents)) === stopped, 'the counter moved after stop');
    expect(stopped === (await call('GET', '/api/v1/simulation/status')).events_produced, 'UI and API disagree');
  });

  await step('produce one event: toast and counters', async () => {
    const topic = 'bancaire.compte.ouvert';
    // The last simulation events may still be arriving over the WebSocket: wait for a quiet second.
    let last = -1;
    await until('the topic counter settles', async () => {
      const now = await nodeCount(topic);
      const quiet = now === last;
      last = now;
      return quiet;
    }, 15_000, 1100);
    await page.getByLabel('Event type').selectOption('CompteOuvert');
    await page.getByLabel('Count').fill('1');
    await page.getByRole('button', { name: 'Produce' }).click();
    await page.getByTestId('toast-success').filter({ hasText: 'Produced 1 CompteOuvert event' }).waitFor({ timeout: 10_000 });
    await waitText(page.getByTestId('prod-sent'), /^1$/);
    await until(`${topic} counter +1`, async () => (await nodeCount(topic)) === last + 1);
  });

  await step('consumer group (issue 22): pause, events wait as lag, resume, scale to 3 and back', async () => {
    const card = page.getByTestId('consumer-group-ledger');
    await card.scrollIntoViewIfNeeded();
    await waitText(card.getByTestId('group-state'), /^running$/);
    await until('21 partitions listed', async () => (await card.getByTestId('partition-row').count()) === 21);
    await card.getByRole('button', { name: 'Pause' }).click();
    await waitText(card.getByTestId('group-state'), /^paused$/);
    expect((await card.getByTestId('member-row').count()) === 0, 'a paused group still shows members');
    await call('POST', '/api/v1/events/produce', { event_type: 'CompteOuvert', count: 5 });
    await until('the lag shows the 5 waiting events', async () => Number(await text(card.getByTestId('lag-total'))) >= 5);
    await card.getByRole('button', { name: 'Resume' }).click();
    await waitText(card.getByTestId('group-state'), /^running$/);
    await waitText(card.getByTestId('lag-total'), /^0$/, 20_000);
    await card.getByLabel('Members').fill('3');
    await card.getByRole('button', { name: 'Scale' }).click();
    await page.getByTestId('toast-success').filter({ hasText: 'ledger now runs 3 members' }).waitFor({ timeout: 20_000 });
    await until('3 members hold 7 partitions each', async () => {
      const counts = await card.getByTestId('member-partition-count').allTextContents();
      return counts.length === 3 && counts.every((c) => /^7\b/.test(c.trim()));
    }, 20_000);
    await card.screenshot({ path: shot.replace(/\.png$/, '-consumers.png') });
    await card.getByLabel('Members').fill('1');
    await card.getByRole('button', { name: 'Scale' }).click();
    await until('back to one member', async () => (await card.getByTestId('member-row').count()) === 1, 20_000);
  });

  await step('lab (issue 22): the eleven guides and the index are listed, and one opens', async () => {
    const list = page.getByTestId('lab-guide-list');
    await list.scrollIntoViewIfNeeded();
    await until('12 guides listed', async () => (await list.getByRole('button').count()) >= 12);
    await list.getByRole('button', { name: /^01 — Publier/ }).click();
    const guide = page.getByRole('article', { name: /01 — Publier/ });
    await guide.getByRole('heading', { name: 'Le problème' }).waitFor({ timeout: 10_000 });
    await waitText(guide.locator('pre').filter({ hasText: 'edalab consumers pause ledger' }).first(), /edalab consumers pause ledger/);
  });

  await step('topics (issue 23): the list counts the topic, its newest message reads decoded, its trace filters', async () => {
    const row = page.locator('[data-testid="topic-row"][data-topic="bancaire.compte.ouvert"]');
    await row.scrollIntoViewIfNeeded();
    await until('the topic counts messages', async () => Number(await text(row.getByTestId('topic-messages'))) > 0);
    await row.getByRole('button', { name: 'bancaire.compte.ouvert' }).click();
    const browser = page.getByTestId('message-browser');
    const first = browser.getByTestId('message-row').first();
    await waitText(first.getByTestId('message-kind'), /^Avro #\d+$/);
    await waitText(first.getByTestId('message-value'), /"compte_id"/);
    await first.getByTestId('trace-filter').click();
    await until('the trace filter narrows the list', async () => {
      const rows = await browser.getByTestId('message-row').count();
      return rows >= 1 && /showing/.test(await text(browser.getByTestId('messages-scanned')));
    });
    await browser.screenshot({ path: shot.replace(/\.png$/, '-topics.png') });
  });

  await step('a failed payment reaches payments.dlq; Redrive empties it and the order is authorized', async () => {
    const failing = page.getByRole('checkbox', { name: /credit bureau failing/i });
    await failing.click(); // controlled: its state follows the server's answer
    await page.getByTestId('toast-success').filter({ hasText: 'Credit bureau now failing' }).waitFor({ timeout: 10_000 });
    expect((await call('GET', '/api/v1/saga/credit-bureau')).failing === true, 'the switch did not reach the back end');
    const order = await call('POST', '/api/v1/orders', { userId: 'e2e-user', amount: 12.5, items: ['book'] });
    const dlqButton = page.getByRole('button', { name: /^payments\.dlq \(1\)/ });
    await dlqButton.waitFor({ timeout: 30_000 });
    expect(/⚠/.test(await dlqButton.textContent()), 'no alert mark on the DLQ button');
    await until('the DLQ node shows depth 1', async () => /depth 1/.test(await text(node('payments.dlq'))));
    await node('payments.dlq').click();
    const panel = page.getByRole('dialog', { name: /payments\.dlq/ });
    await panel.getByText(/credit check: .*injected failure/).first().waitFor({ timeout: 10_000 });
    await panel.getByText(/from orders\.created.* group payment-service/).first().waitFor({ timeout: 5_000 });
    await waitText(panel.getByTestId('dlq-depth'), /^1 waiting for redrive/);

    // The dependency recovers; the breaker must let calls through again before the redrive.
    await failing.click();
    await page.getByTestId('toast-success').filter({ hasText: 'Credit bureau back to normal' }).waitFor({ timeout: 10_000 });
    await waitText(page.getByTestId('breaker-state'), /^(closed|half-open)$/, 20_000);

    await panel.getByRole('button', { name: 'Redrive' }).click();
    await page.getByTestId('toast-success').filter({ hasText: 'Redrove 1 message from payments.dlq' }).waitFor({ timeout: 15_000 });
    await panel.getByText('Empty.').waitFor({ timeout: 10_000 });
    await page.getByRole('button', { name: /^payments\.dlq \(0\)/ }).waitFor({ timeout: 10_000 });
    await until('the order is authorized', async () => {
      const st = await call('GET', `/api/v1/orders/${order.orderId}/status`);
      return st.status === 'PAYMENT_AUTHORIZED' || st.status;
    }, 20_000, 250);
    await panel.getByRole('button', { name: 'Close DLQ panel' }).click();
  });

  await step('the WebSocket reconnects after the server restarts (same port and data dir)', async () => {
    await waitText(wsStatus, /WebSocket: connected/);
    await stopServer();
    await waitText(wsStatus, /WebSocket: (disconnected|connecting)/, 10_000);
    await startServer();
    const log = readFileSync(logPath, 'utf8');
    expect((log.match(/edalab up: ready/g) ?? []).length === 2 && /edalab up: stopped cleanly/.test(log), 'the server was not stopped cleanly and started again');
    // Backoff is capped at 15 s (web/src/ws.ts).
    await waitText(wsStatus, /WebSocket: connected/, 30_000);
    // The data survived: the DLQ is still empty and the simulation's total is the same.
    await waitText(simStatus, /^stopped$/);
    await page.getByRole('button', { name: /^payments\.dlq \(0\)/ }).waitFor({ timeout: 10_000 });
  });

  expect(pageErrors.length === 0, `page errors: ${pageErrors.join('; ')}`);
  console.log(`live e2e ok: ${steps.length} steps in ${Date.now() - t0} ms; screenshot ${shot}`);
} catch (e) {
  console.error(`live e2e FAILED: ${e instanceof Error ? e.stack : e}`);
  const failShot = shot.replace(/\.png$/, '-failure.png');
  if (page) await page.screenshot({ path: failShot, fullPage: true }).then(() => console.error(`screenshot: ${failShot}`), () => {});
  console.error(`--- edalab up log (${logPath}) ---\n${(() => { try { return readFileSync(logPath, 'utf8').slice(-6000); } catch { return '(none)'; } })()}`);
  process.exitCode = 1;
} finally {
  await browser?.close().catch(() => {});
  await stopServer().catch((e) => console.error(String(e)));
  if (!process.exitCode) rmSync(data, { recursive: true, force: true });
}
