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
//      `connected`, `edalab up` again on the same port and data dir, the header comes back;
//   8. issue 23 (pages, graph, numbers): at 1440×900 each system tab of the flow graph draws its
//      node labels at ≥ 11 px (font size × React Flow's zoom; the smallest is named otherwise);
//      graph nodes lead to their topic / group page; each page (#/, #/topics, a topic,
//      #/consumers, #/consumers/ledger, #/lab) is shot to target/ui-page-<name>.png; the
//      dashboard and the footer show one message count; a simulation started through the API
//      (not this page) shows its settings in the sidebar, the user's come back after;
//      the footer's uptime is the platform's, and every consumer group of the bus is listed
//      (an observed one without controls).
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
  page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  if (process.env.DEBUG_E2E) page.on('console', (m) => console.log('console:', m.text()));

  const text = async (loc) => ((await loc.first().textContent({ timeout: 2000 }).catch(() => '')) ?? '').trim();
  const waitText = (loc, re, timeout = 15_000) =>
    until(`${re}`, async () => re.test(await text(loc)) || `"${await text(loc)}"`, timeout, 100);
  const num = async (loc) => Number((await text(loc)).replace(/[^\d]/g, '') || 'NaN');
  const node = (label) => page.locator('.react-flow__node').filter({ has: page.locator(`span[title="${label}"]`) });
  /** A node's figure (`node-count`: messages; `node-committed`: a group's committed offsets), digits only. */
  const nodeCount = async (label, figure = 'node-count') => Number((await text(node(label).getByTestId(figure))).replace(/\D/g, '') || NaN);
  const hash = () => page.evaluate(() => location.hash);
  const waitHash = (want) => until(`hash ${want}`, async () => (await hash()) === want || (await hash()));
  const nav = async (name, want) => {
    await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name, exact: true }).click();
    await waitHash(want);
  };
  const goto = async (h) => {
    await page.evaluate((x) => (location.hash = x), h);
    await waitHash(h);
  };
  const pageShot = (name) => page.screenshot({ path: join(dirname(shot), `ui-page-${name}.png`) });
  /** A graph tab, once React Flow has fitted it (every node shown, the zoom still for 300 ms). */
  const openTab = async (name) => {
    await page.getByRole('tab', { name, exact: true }).click();
    let last = '';
    await until(`graph tab ${name} fitted`, async () => {
      const now = await page.evaluate(() => {
        const nodes = [...document.querySelectorAll('.react-flow__node')];
        const shown = nodes.length > 0 && nodes.every((n) => getComputedStyle(n).visibility === 'visible');
        return shown ? getComputedStyle(document.querySelector('.react-flow__viewport')).transform : 'hidden';
      });
      const still = now !== 'hidden' && now === last;
      last = now;
      return still || now;
    }, 15_000, 300);
  };
  /** Every node label as drawn: CSS font size × the viewport's zoom, and its glyph box's height. */
  const labelSizes = () =>
    page.evaluate(() => {
      const zoom = new DOMMatrixReadOnly(getComputedStyle(document.querySelector('.react-flow__viewport')).transform).a;
      return [...document.querySelectorAll('.react-flow__node [data-testid="node-label"]')].map((el) => ({
        label: el.textContent,
        px: parseFloat(getComputedStyle(el).fontSize) * zoom,
        box: el.getBoundingClientRect().height,
      }));
    });
  const wsStatus = page.getByTestId('ws-status');
  const simStatus = page.getByTestId('sim-status');
  const simEvents = page.getByTestId('sim-events');

  await step('the gateway serves the UI; the WebSocket connects; the graph opens on Banking', async () => {
    await page.goto(base, { waitUntil: 'domcontentloaded' });
    const h1 = page.getByRole('heading', { level: 1 });
    await h1.waitFor({ timeout: 15_000 });
    expect((await h1.textContent())?.includes('edalab'), 'header title is not "edalab"');
    await waitText(wsStatus, /WebSocket: connected/);
    await page.locator('.react-flow__node').first().waitFor({ timeout: 15_000 });
    const nodes = await page.locator('.react-flow__node').count();
    expect(nodes >= 10, `only ${nodes} flow-graph nodes`);
    const selected = await page.getByRole('tab', { name: 'Banking (S3)', exact: true }).getAttribute('aria-selected');
    expect(selected === 'true', 'the graph does not open on Banking (S3)');
    await waitText(simStatus, /^stopped$/);
    expect((await num(simEvents)) === 0, 'a fresh platform has produced events');
  });

  await step('graph tabs at 1440×900: each system alone, every node label ≥ 11 px', async () => {
    const report = [];
    for (const tab of ['Banking (S3)', 'Transactions (S0)', 'Calculator (S1)', 'Orders intake (S2)', 'Order saga (S4)']) {
      await openTab(tab);
      const sizes = await labelSizes();
      expect(sizes.length >= 4, `${tab}: ${sizes.length} labels`);
      const min = sizes.reduce((a, b) => (b.px < a.px ? b : a));
      expect(min.px >= 11, `${tab}: the smallest node label, "${min.label}", is drawn at ${min.px.toFixed(2)} px (< 11 px)`);
      report.push(`${tab} ${min.px.toFixed(1)} px`);
      await page.screenshot({ path: join(dirname(shot), `ui-graph-${tab.replace(/\W+/g, '-').replace(/-$/, '').toLowerCase()}.png`) });
    }
    console.log(`    smallest labels: ${report.join(', ')}`);
    await openTab('All systems');
    expect((await page.locator('.react-flow__node').count()) >= 30, 'All systems does not draw every pipeline');
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

  await step('during the simulation edges animate with "count · n/s" labels and node counters grow', async () => {
    await page.locator('.react-flow__edge.animated').first().waitFor({ timeout: 10_000 });
    await until('an edge label "count · n/s"', async () => {
      const labels = await page.locator('.react-flow__edge-text').allTextContents();
      return labels.some((l) => /^[1-9][\d\s]* · \d+(\.\d)?\/s$/.test(l.trim())) || JSON.stringify(labels);
    });
    // The simulator node counts the messages of its topics (their end offsets, GET /api/v1/topics).
    await until('simulator counter > 0', async () => (await nodeCount('simulator')) > 0);
    const before = await nodeCount('simulator');
    await until('simulator counter grows', async () => (await nodeCount('simulator')) > before);
    // The ledger's: the sum of its committed offsets (GET /api/v1/consumers).
    await until('ledger committed > 0', async () => (await nodeCount('ledger', 'node-committed')) > 0);
    const ledger = await nodeCount('ledger', 'node-committed');
    await until('ledger committed grows', async () => (await nodeCount('ledger', 'node-committed')) > ledger);
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
    // The last simulation events may still be landing: wait for two polls of the offsets (2 s) alike.
    let last = -1;
    await until('the topic counter settles', async () => {
      const now = await nodeCount(topic);
      const quiet = now === last;
      last = now;
      return quiet;
    }, 20_000, 2500);
    await page.getByLabel('Event type').selectOption('CompteOuvert');
    await page.getByLabel('Count').fill('1');
    await page.getByRole('button', { name: 'Produce' }).click();
    await page.getByTestId('toast-success').filter({ hasText: 'Produced 1 CompteOuvert event' }).waitFor({ timeout: 10_000 });
    await waitText(page.getByTestId('prod-sent'), /^1$/);
    await until(`${topic} counter +1`, async () => (await nodeCount(topic)) === last + 1);
  });

  await step('consumer group (issue 22): pause, events wait as lag, resume, scale to 3 and back', async () => {
    await nav('Consumers', '#/consumers');
    await page.getByTestId('group-list').getByRole('button', { name: /^ledger/ }).click();
    await waitHash('#/consumers/ledger');
    const card = page.getByTestId('consumer-group-ledger');
    await waitText(card.getByTestId('group-state'), /^running$/);
    await waitText(card.getByTestId('lag-total'), /^\d+$/);
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
    await nav('Lab', '#/lab');
    const list = page.getByTestId('lab-guide-list');
    await until('12 guides listed', async () => (await list.getByRole('button').count()) >= 12);
    await list.getByRole('button', { name: /^01 — Publier/ }).click();
    const guide = page.getByRole('article', { name: /01 — Publier/ });
    await guide.getByRole('heading', { name: 'Le problème' }).waitFor({ timeout: 10_000 });
    await waitText(guide.locator('pre').filter({ hasText: 'edalab consumers pause ledger' }).first(), /edalab consumers pause ledger/);
  });

  await step('topics (issue 23): the list counts the topic, its newest message reads decoded, its trace filters', async () => {
    await nav('Topics', '#/topics');
    const row = page.locator('[data-testid="topic-row"][data-topic="bancaire.compte.ouvert"]');
    await until('the topic counts messages', async () => Number(await text(row.getByTestId('topic-messages'))) > 0);
    await row.getByRole('button', { name: 'bancaire.compte.ouvert' }).click();
    await waitHash('#/topics/bancaire.compte.ouvert');
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
    await nav('Overview', '#/');
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

  await step('graph nodes lead to their page: a topic to its messages, the ledger to its group', async () => {
    await openTab('Banking (S3)');
    await node('bancaire.compte.ouvert').click();
    await waitHash('#/topics/bancaire.compte.ouvert');
    await page.getByTestId('message-browser').getByTestId('message-row').first().waitFor({ timeout: 15_000 });
    await page.goBack();
    await waitHash('#/?system=banking');
    await node('ledger').getByRole('link', { name: 'ledger' }).focus();
    await page.keyboard.press('Enter');
    await waitHash('#/consumers/ledger');
    await waitText(page.getByTestId('consumer-group-ledger').getByTestId('lag-total'), /^\d+$/);
  });

  await step('each page, shot: overview, topics, a topic, consumers, the ledger group, lab', async () => {
    const pages = [
      ['overview', '#/', () => page.locator('.react-flow__node').first().waitFor({ timeout: 15_000 })],
      ['topics', '#/topics', () => page.getByTestId('topic-row').first().waitFor({ timeout: 15_000 })],
      ['topic', '#/topics/bancaire.compte.ouvert', () => page.getByTestId('message-row').first().waitFor({ timeout: 15_000 })],
      ['consumers', '#/consumers', () => page.getByTestId('group-row').first().waitFor({ timeout: 15_000 })],
      ['consumers-ledger', '#/consumers/ledger', () => waitText(page.getByTestId('consumer-group-ledger').getByTestId('lag-total'), /^\d+$/)],
      ['lab', '#/lab', () => page.getByTestId('lab-guide-list').getByRole('button').first().waitFor({ timeout: 15_000 })],
    ];
    for (const [name, h, ready] of pages) {
      await goto(h);
      await ready();
      expect((await page.locator('nav[aria-label="Pages"] a[aria-current="page"]').count()) === 1, `no current page in the nav on ${h}`);
      await page.waitForTimeout(500);
      await pageShot(name);
    }
    await goto('#/no/such/page');
    await page.locator('main[data-page="overview"]').waitFor({ timeout: 5000 });
  });

  await step('numbers agree: the dashboard and the footer show one message count, from the topics', async () => {
    await goto('#/');
    const both = () =>
      page.evaluate(() => {
        const t = (id) => (document.querySelector(`[data-testid="${id}"]`)?.textContent ?? '').replace(/[^\d.—]/g, '');
        return [t('platform-messages'), t('footer-events'), t('platform-rate'), t('footer-rate')];
      });
    await until('the dashboard counts messages', async () => /^\d+$/.test((await both())[0]));
    const [cm, fm, cr, fr] = await both();
    expect(cm === fm && cr === fr, `dashboard ${cm} messages ${cr}/s, footer ${fm} messages ${fr}/s`);
    const { topics } = await call('GET', '/api/v1/topics');
    const served = topics.filter((t) => !t.dlq && !t.name.startsWith('_')).reduce((a, t) => a + t.end_offsets, 0);
    expect(Number(cm) > 0 && Number(cm) <= served, `dashboard ${cm} messages, the topics' end offsets ${served}`);
  });

  await step('a simulation started elsewhere (the API): the sidebar shows its settings, then the user’s again', async () => {
    const value = (label) => page.getByLabel(label, { exact: true }).inputValue();
    const own = [await value('Scenario'), await value('Rate (events/s), exact')];
    await call('POST', '/api/v1/simulation/start', { scenario: 'banking-day', pattern: 'sine', rate: 7, duration: 0 });
    try {
      await waitText(simStatus, /^running$/);
      await until('the running settings', async () => {
        const shown = [await value('Scenario'), await value('Pattern'), await value('Rate (events/s), exact'), await value('Duration (s, 0 = forever)')];
        return JSON.stringify(shown) === '["banking-day","sine","7","0"]' || JSON.stringify(shown);
      });
      expect(await page.getByLabel('Scenario').isDisabled(), 'the scenario can be changed while a simulation runs');
    } finally {
      await call('POST', '/api/v1/simulation/stop');
    }
    await waitText(simStatus, /^stopped$/);
    const back = [await value('Scenario'), await value('Rate (events/s), exact')];
    expect(JSON.stringify(back) === JSON.stringify(own), `the user's settings ${JSON.stringify(own)} did not come back: ${JSON.stringify(back)}`);
  });

  await step('the footer shows the platform’s uptime (GET /api/v1/health uptime_seconds)', async () => {
    const health = await call('GET', '/api/v1/health');
    expect(typeof health.uptime_seconds === 'number', `health has no uptime_seconds: ${JSON.stringify(health).slice(0, 200)}`);
    await waitText(page.getByTestId('footer-uptime'), /^Uptime: (\d+h )?(\d+m )?\d+s$/);
  });

  await step('every consumer group of the bus is listed; an observed one has no controls', async () => {
    await goto('#/consumers');
    const list = page.getByTestId('group-list');
    await until('more groups than the ledger', async () => (await list.getByTestId('group-row').count()) > 1 || 'only the ledger', 15_000);
    const observed = list.locator('[data-testid="group-row"]', { has: page.getByTestId('group-row-state').filter({ hasText: /^observed$/ }) });
    await observed.first().waitFor({ timeout: 15_000 });
    const name = await observed.first().getAttribute('data-group');
    await observed.first().click();
    await waitHash(`#/consumers/${encodeURIComponent(name)}`);
    const card = page.getByTestId(`consumer-group-${name}`);
    await waitText(card.getByTestId('group-state'), /^observed$/);
    expect((await card.getByRole('button', { name: /^(Pause|Resume|Scale)$/ }).count()) === 0, `observed group ${name} shows controls`);
    await pageShot('consumers-observed');
  });

  await step('the WebSocket reconnects after the server restarts (same port and data dir)', async () => {
    await goto('#/');
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
