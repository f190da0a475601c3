// Browser test of the UI's behaviour with the gateway faked *inside the browser*:
// playwright-core's page.route (REST, /metrics) and page.routeWebSocket (/ws) — no back end,
// no extra packages. Covers issue 9's scenarios that do not need real services: start/stop,
// produce (toast + counter), edges animate and counters grow, WebSocket reconnects after a cut,
// DLQ node → messages → redrive, keyboard access, issue 22's consumer-group controls (pause,
// scale, a refused scale) and lab guides, and issue 23's topic browser (list with a rate, a
// decoded message, the trace filter), pages (#/, #/topics/<topic>, #/consumers/<group>, #/lab),
// the graph's system tabs (labels ≥ 11 px at 1440×900), numbers from one source (the topics'
// end offsets: dashboard = footer), the platform's uptime, a simulation started elsewhere shown
// in the sidebar, and every consumer group (an observed one without controls, edalab's own
// apart). The same scenarios against a real
// `edalab up` are in live.mjs; this one keeps what is hard to reach for real (exact start body,
// a socket cut at a chosen moment, a DLQ message with a known reason) and checks the page
// against the gateway's documented shapes (crates/gateway/src/dlq.rs).
//   npx vite preview --port 4173 &  EDALAB_URL=http://127.0.0.1:4173 npm run e2e:mocked
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const url = process.env.EDALAB_URL;
if (!url) {
  console.error('EDALAB_URL is required');
  process.exit(2);
}
const shot = process.env.EDALAB_SCREENSHOT ?? fileURLToPath(new URL('../../target/ui-mocked.png', import.meta.url));

const state = {
  status: 'stopped',
  events: 0,
  startedAt: null,
  lastStart: null,
  /** A run started elsewhere (another page, the CLI): its settings, as the status reports them. */
  run: null,
  dlq: [{ partition: 0, offset: 7, key: 'acc-1', error: 'poison: amount is not a decimal', attempts: 3, origin_topic: 'bancaire.depot.effectue', origin_partition: 1, origin_offset: 12, group: 'ledger', first_failure_ms: Date.now() - 5000, last_failure_ms: Date.now() - 1000, value: null }],
};
// The consumer group `GET /api/v1/consumers` shows (crates/gateway/src/consumers.rs's shape).
const ledger = {
  group: 'ledger',
  controllable: true,
  state: 'running',
  members_target: 1,
  instance: 'e2e-host:4242',
  members: [],
  partitions: [0, 1, 2, 3].map((partition) => ({ topic: 'bancaire.compte.ouvert', partition, committed: 10, high_watermark: 10, lag: 0, member: null })),
  lag_total: 0,
};
/** Deals the partitions to `members_target` members (none when paused), as the server does. */
function assign() {
  const n = ledger.state === 'paused' ? 0 : ledger.members_target;
  ledger.partitions = ledger.partitions.map((p, i) => ({ ...p, member: n ? (i % n) + 1 : null }));
  ledger.members = Array.from({ length: n }, (_, i) => ({
    member: i + 1,
    partitions: ledger.partitions.filter((p) => p.member === i + 1).map((p) => `${p.topic}/${p.partition}`),
    messages_done_total: ledger.members[i]?.messages_done_total ?? 0,
    messages_in_flight: 0,
  }));
}
assign();
/** Groups without member pools: observed (no members, no controls; every control is a 409). */
const observed = (group, topic, committed, end) => ({
  group,
  controllable: false,
  state: 'observed',
  members_target: 0,
  instance: '',
  members: [],
  partitions: [{ topic, partition: 0, committed, high_watermark: end, lag: end - committed, member: null }],
  lag_total: end - committed,
});
const otherGroups = [observed('payment-service', 'orders.created', 40, 42), observed('edalab.redrive.system.dlq', 'system.dlq', 0, 1)];
const guides = [
  { id: '01-pub-sub', title: '01 — Pub/Sub : un fait, plusieurs lecteurs', summary: 'Un producteur publie un fait une fois ; chaque groupe le lit à son rythme.' },
  { id: '03-partitions', title: '03 — Partitions et groupes de consommateurs', summary: 'Une partition est lue par un seul membre du groupe.' },
];
const guideMarkdown = '# 01 — Pub/Sub : un fait, plusieurs lecteurs\n\n## Le problème\n\nUn **producteur** ne connaît pas ses lecteurs.\n\n```bash\nedalab up\n```\n';
// The topics `GET /api/v1/topics` lists and one topic's messages (crates/gateway/src/topics.rs).
const topics = [
  { name: 'bancaire.compte.ouvert', partitions: 2, retention_ms: null, retention_bytes: 1073741824, compression: 'none', cleanup_policy: 'delete', size_bytes: 12345, messages: 420, end_offsets: 420, dlq: false },
  // Grows with the simulation's events (its end offsets are state.events).
  { name: 'bancaire.depot.effectue', partitions: 2, retention_ms: null, retention_bytes: null, compression: 'none', cleanup_policy: 'delete', size_bytes: 100, messages: 0, end_offsets: 0, dlq: false },
  { name: 'system.dlq', partitions: 1, retention_ms: 604800000, retention_bytes: null, compression: 'none', cleanup_policy: 'delete', size_bytes: 512, messages: 1, end_offsets: 1, dlq: true },
];
const trace = '4bf92f3577b34da6a3ce929d0e0e4736';
const topicMessages = [0, 1, 2].map((i) => ({
  partition: i % 2,
  offset: 200 + i,
  timestamp: Date.now() - (3 - i) * 1000,
  key: `ACC-${i}`,
  headers: { event_id: `evt-${i}`, event_type: 'CompteOuvert', traceparent: `00-${i === 1 ? '0af7651916cd43dd8448eb211c80319c' : trace}-00f067aa0ba902b7-01` },
  value: { event_id: `evt-${i}`, event_type: 'CompteOuvert', account: { id: `ACC-${i}`, holder: ['Alice', 'Bob', 'Chloé'][i] } },
  value_schema_id: 3,
  value_error: null,
  trace_id: i === 1 ? '0af7651916cd43dd8448eb211c80319c' : trace,
}));
let lastMessagesQuery = null;
// The platform started 1 h 2 min 5 s before the page.
const startedUp = Date.now() - 3725_000;
const upSince = () => (Date.now() - startedUp) / 1000;
const sockets = new Set();
let pump = null;

function metricsText() {
  return [
    `edalab_messages_produced_total{service="simulator",topic="bancaire.depot.effectue"} ${state.events}`,
    `edalab_messages_consumed_total{service="ledger",topic="bancaire.depot.effectue"} ${state.events}`,
    `edalab_consumer_lag{group="ledger",topic="bancaire.depot.effectue",partition="0"} 2`,
    `edalab_dlq_depth{topic="system.dlq"} ${state.dlq.length}`,
    `edalab_message_latency_seconds_sum{service="ledger"} 0.3`,
    `edalab_message_latency_seconds_count{service="ledger"} 100`,
  ].join('\n') + '\n';
}
const json = (route, body, status = 200) => route.fulfill({ status, contentType: 'application/json', body: JSON.stringify(body) });
const broadcast = (topic) => {
  const msg = JSON.stringify({ type: 'event', topic, payload: {}, timestamp: new Date().toISOString() });
  for (const ws of sockets) ws.send(msg);
};

const steps = [];
const step = async (name, fn) => {
  const t = Date.now();
  await fn();
  steps.push(`${name} (${Date.now() - t} ms)`);
  console.log(`ok  ${name}`);
};
const expect = (cond, msg) => {
  if (!cond) throw new Error(`mocked e2e: ${msg}`);
};

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  if (process.env.DEBUG_E2E) page.on('console', (m) => console.log('console:', m.text()));

  await page.route('**/metrics', (r) => r.fulfill({ contentType: 'text/plain', body: metricsText() }));
  await page.route('**/api/v1/**', async (route) => {
    const req = route.request();
    const path = new URL(req.url()).pathname;
    const m = req.method();
    if (m === 'GET' && path === '/api/v1/simulation/status')
      return json(route, {
        status: state.status,
        simulation_id: state.status === 'running' ? 'sim-e2e' : null,
        events_produced: state.events,
        started_at: state.startedAt,
        rate_actual: state.status === 'running' ? 20 : 0,
        ...(state.status === 'running' ? state.run : {}),
      });
    if (m === 'POST' && path === '/api/v1/simulation/start') {
      if (state.status === 'running') return json(route, { error: 'simulation already running' }, 409);
      state.lastStart = req.postDataJSON();
      state.run = state.lastStart;
      state.status = 'running';
      state.startedAt = new Date().toISOString();
      pump = setInterval(() => {
        state.events += 1;
        broadcast('bancaire.depot.effectue');
      }, 50);
      return json(route, { simulation_id: 'sim-e2e', status: 'running' });
    }
    if (m === 'POST' && path === '/api/v1/simulation/stop') {
      clearInterval(pump);
      state.status = 'stopped';
      return json(route, { status: 'stopped', events_produced: state.events });
    }
    if (m === 'POST' && path === '/api/v1/events/produce') {
      // Like the real simulator: a manual produce is not counted in the simulation's events.
      const { count } = req.postDataJSON();
      for (let i = 0; i < count; i++) broadcast('bancaire.compte.ouvert');
      topics[0].end_offsets += count;
      topics[0].messages += count;
      return json(route, { events_produced: count, event_ids: Array.from({ length: count }, (_, i) => `e${i}`) });
    }
    if (path === '/api/v1/saga/credit-bureau') {
      if (m === 'PUT') state.bureauFailing = req.postDataJSON().failing ?? state.bureauFailing;
      return json(route, { failing: state.bureauFailing ?? false, latency_ms: 0, breaker: 'closed' });
    }
    if (m === 'GET' && path === '/api/v1/health')
      return json(route, { status: 'healthy', kafka: 'connected', postgres: 'connected', uptime_seconds: upSince(), started_at: new Date(startedUp).toISOString() });
    if (m === 'GET' && path === '/api/v1/dlq/system.dlq/messages') return json(route, { topic: 'system.dlq', depth: state.dlq.length, messages: state.dlq, invalid: [] });
    if (m === 'POST' && path === '/api/v1/dlq/system.dlq/redrive') {
      const n = state.dlq.length;
      state.dlq = [];
      return json(route, { scanned: n, redriven: n, skipped: 0, invalid: 0 });
    }
    if (m === 'GET' && path === '/api/v1/consumers') {
      // Members work while the group runs; a paused group's log grows.
      for (const mb of ledger.members) mb.messages_done_total += 5;
      if (ledger.state === 'paused') ledger.partitions[0] = { ...ledger.partitions[0], high_watermark: ledger.partitions[0].high_watermark + 1 };
      for (const p of ledger.partitions) p.lag = p.high_watermark - (p.committed ?? 0);
      ledger.lag_total = ledger.partitions.reduce((n, p) => n + p.lag, 0);
      return json(route, { groups: [ledger, ...otherGroups] });
    }
    if (m !== 'GET' && otherGroups.some((g) => path.startsWith(`/api/v1/consumers/${g.group}/`)))
      return json(route, { error: 'consumer group is observed, not controlled', code: 'conflict', details: [{ field: 'group', message: 'no controls here' }] }, 409);
    if (m === 'POST' && (path === '/api/v1/consumers/ledger/pause' || path === '/api/v1/consumers/ledger/resume')) {
      ledger.state = path.endsWith('/pause') ? 'paused' : 'running';
      assign();
      return json(route, ledger);
    }
    if (m === 'PUT' && path === '/api/v1/consumers/ledger/members') {
      const { members } = req.postDataJSON();
      if (!Number.isInteger(members) || members < 1 || members > 16) {
        const message = 'must be an integer between 1 and 16';
        return json(route, { error: `invalid \`members\`: ${message}`, code: 'validation_failed', details: [{ field: 'members', message }] }, 400);
      }
      ledger.members_target = members;
      assign();
      return json(route, ledger);
    }
    if (m === 'GET' && path === '/api/v1/topics') {
      topics[1].end_offsets = topics[1].messages = state.events;
      return json(route, { topics });
    }
    if (m === 'GET' && path === '/api/v1/topics/bancaire.compte.ouvert')
      return json(route, { ...topics[0], partition_offsets: [0, 1].map((partition) => ({ partition, log_start_offset: 0, high_watermark: 210, size_bytes: 6000 })) });
    if (m === 'GET' && path === '/api/v1/topics/bancaire.compte.ouvert/messages') {
      const query = new URL(req.url()).searchParams;
      lastMessagesQuery = Object.fromEntries(query);
      const q = query.get('q');
      const found = topicMessages.filter((msg) => !q || JSON.stringify([msg.key, msg.headers, msg.value]).includes(q)).sort((a, b) => b.timestamp - a.timestamp);
      return json(route, { topic: 'bancaire.compte.ouvert', messages: found, scanned: topicMessages.length });
    }
    if (m === 'GET' && path === '/api/v1/lab/guides') return json(route, { guides });
    if (m === 'GET' && path === '/api/v1/lab/guides/01-pub-sub') return json(route, { id: '01-pub-sub', title: guides[0].title, markdown: guideMarkdown });
    if (m === 'GET' && path === '/api/v1/auth/session') return json(route, { auth_required: false, authenticated: true });
    return json(route, { error: `not faked: ${m} ${path}` }, 404);
  });
  await page.routeWebSocket(/\/ws$/, (ws) => {
    sockets.add(ws);
    ws.onMessage((msg) => {
      const m = JSON.parse(String(msg));
      expect(m.action === 'subscribe' && m.topics[0] === '*', `bad subscribe ${msg}`);
    });
    ws.onClose(() => sockets.delete(ws));
  });

  await page.goto(url, { waitUntil: 'domcontentloaded' });
  const wsStatus = page.getByTestId('ws-status');
  const simStatus = page.getByTestId('sim-status');
  const simEvents = page.getByTestId('sim-events');
  const waitText = async (loc, re, timeout = 10_000) => {
    const end = Date.now() + timeout;
    let last = '';
    while (Date.now() < end) {
      last = (await loc.first().textContent({ timeout: 1000 }).catch(() => '')) ?? '';
      if (re.test(last)) return;
      await page.waitForTimeout(100);
    }
    throw new Error(`timed out waiting for ${re} (got "${last}")`);
  };

  /** The graph's node labels as drawn: CSS font size × React Flow's zoom, and the glyph box's height. */
  const labelSizes = () =>
    page.evaluate(() => {
      const zoom = new DOMMatrixReadOnly(getComputedStyle(document.querySelector('.react-flow__viewport')).transform).a;
      return [...document.querySelectorAll('.react-flow__node [data-testid="node-label"]')].map((el) => ({
        label: el.textContent,
        px: parseFloat(getComputedStyle(el).fontSize) * zoom,
      }));
    });
  /** A graph tab, once React Flow has fitted it (every node shown, the zoom still for 300 ms). */
  const openTab = async (name) => {
    await page.getByRole('tab', { name }).click();
    let last = '';
    const end = Date.now() + 10_000;
    while (Date.now() < end) {
      const now = await page.evaluate(() => {
        const nodes = [...document.querySelectorAll('.react-flow__node')];
        const shown = nodes.length > 0 && nodes.every((n) => getComputedStyle(n).visibility === 'visible');
        return shown ? getComputedStyle(document.querySelector('.react-flow__viewport')).transform : 'hidden';
      });
      if (now !== 'hidden' && now === last) return;
      last = now;
      await page.waitForTimeout(300);
    }
    throw new Error(`graph tab ${name} not fitted`);
  };
  const nodeOf = (id) => page.locator(`.react-flow__node[data-id="${id}"]`);
  const hash = () => page.evaluate(() => location.hash);
  const waitHash = async (want) => {
    const end = Date.now() + 5000;
    while ((await hash()) !== want && Date.now() < end) await page.waitForTimeout(50);
    expect((await hash()) === want, `hash ${await hash()}, not ${want}`);
  };

  await step('header connects the WebSocket', () => waitText(wsStatus, /: connected/));
  await step('graph tabs at 1440×900: each system alone, every node label ≥ 11 px', async () => {
    const tabs = { 'Banking (S3)': 11, 'Transactions (S0)': 9, 'Calculator (S1)': 5, 'Orders intake (S2)': 4, 'Order saga (S4)': 8 };
    const report = [];
    for (const [tab, count] of Object.entries(tabs)) {
      await openTab(tab);
      const sizes = await labelSizes();
      expect(sizes.length === count, `${tab}: ${sizes.length} labels, not ${count}`);
      const min = sizes.reduce((a, b) => (b.px < a.px ? b : a));
      expect(min.px >= 11, `${tab}: label "${min.label}" drawn at ${min.px.toFixed(1)} px (< 11)`);
      report.push(`${tab} ${min.px.toFixed(1)} px`);
    }
    console.log(`    smallest labels: ${report.join(', ')}`);
    await openTab('All systems');
    expect((await page.locator('.react-flow__node').count()) >= 30, 'All systems does not draw every pipeline');
    expect((await hash()) === '#/?system=all', `All systems hash ${await hash()}`);
  });
  await step('pages: the nav links, and an unknown hash is the Overview', async () => {
    for (const [name, want] of [['Topics', '#/topics'], ['Consumers', '#/consumers'], ['Lab', '#/lab'], ['Overview', '#/']]) {
      await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name }).click();
      await waitHash(want);
      await page.locator(`nav[aria-label="Pages"] a[aria-current="page"]`, { hasText: name }).waitFor({ timeout: 5000 });
    }
    await page.evaluate(() => (location.hash = '#/no/such/page'));
    await page.locator('main[data-page="overview"]').waitFor({ timeout: 5000 });
    await page.getByTestId('flow-graph').waitFor({ timeout: 5000 });
    await page.evaluate(() => (location.hash = '#/'));
  });
  await step('footer: the platform’s uptime from health, not the page’s age', () => waitText(page.getByTestId('footer-uptime'), /^Uptime: 1h 2m \d+s$/));
  await step('start a simulation: status and counter change', async () => {
    await page.getByLabel('Scenario').selectOption('banking-day');
    await page.getByLabel('Rate (events/s), exact').fill('20');
    await page.getByRole('button', { name: /start simulation/i }).click();
    await waitText(simStatus, /running/);
    await waitText(simEvents, /^[1-9]\d*$/);
    expect(state.lastStart?.scenario === 'banking-day' && state.lastStart?.rate === 20, `start body ${JSON.stringify(state.lastStart)}`);
  });
  await step('edges animate, show count · rate from the offsets, and node counters grow', async () => {
    const edge = page.locator('.react-flow__edge.animated', { has: page.locator('.react-flow__edge-text') });
    await edge.first().waitFor({ timeout: 10_000 });
    await waitText(edge.locator('.react-flow__edge-text'), /^[1-9][\d\s]* · \d+(\.\d)?\/s$/);
    await waitText(nodeOf('bancaire.depot.effectue').getByTestId('node-count'), /^[1-9][\d\s]* msgs$/);
  });
  await step('numbers agree: dashboard and footer show one count and one rate', async () => {
    const both = () =>
      page.evaluate(() => {
        const t = (id) => (document.querySelector(`[data-testid="${id}"]`)?.textContent ?? '').replace(/[^\d.—]/g, '');
        return [t('platform-messages'), t('footer-events'), t('platform-rate'), t('footer-rate')];
      });
    // Read in one go (a poll could land between two reads); the page may be one answer behind the fake.
    const served = () => topics.filter((t) => !t.dlq).reduce((a, t) => a + t.end_offsets, 0);
    let seen = [];
    const end = Date.now() + 5000;
    do {
      seen = await both();
      const [cm, fm, cr, fr] = seen;
      expect(cm === fm && cr === fr && /^\d+$/.test(cm), `dashboard ${cm} ${cr}/s, footer ${fm} ${fr}/s`);
      if (Number(cm) === served()) break;
      await page.waitForTimeout(100);
    } while (Date.now() < end);
    expect(Number(seen[0]) === served(), `messages ${seen[0]} are not the topics' end offsets (${served()})`);
    await page.getByTestId('card-events').getByText('Simulation events sent').waitFor({ timeout: 2000 });
    await page.getByTestId('card-rate').getByText('Simulation rate').waitFor({ timeout: 2000 });
  });
  await step('stop the simulation', async () => {
    await page.screenshot({ path: (mkdirSync(dirname(shot), { recursive: true }), shot), fullPage: true });
    await page.getByRole('button', { name: /stop simulation/i }).click();
    await waitText(simStatus, /stopped/);
  });
  const sent = page.getByTestId('prod-sent');
  const footerEvents = page.getByTestId('footer-events');
  const footerCount = async () => Number(((await footerEvents.textContent()) ?? '').replace(/\D/g, ''));
  await step('produce one event: toast and counters', async () => {
    const before = await footerCount();
    await page.getByLabel('Count').fill('1');
    await page.getByRole('button', { name: 'Produce' }).click();
    await page.getByTestId('toast-success').filter({ hasText: 'Produced 1 CompteOuvert event' }).waitFor({ timeout: 5000 });
    await waitText(sent, /^1$/);
    const end = Date.now() + 5000;
    while ((await footerCount()) <= before && Date.now() < end) await page.waitForTimeout(100);
    expect((await footerCount()) > before, 'footer events did not grow');
  });
  await step('keyboard: Tab reaches the Produce button, Enter produces', async () => {
    await page.locator('body').click({ position: { x: 5, y: 5 } });
    let name = '';
    for (let i = 0; i < 40 && name !== 'Produce'; i++) {
      await page.keyboard.press('Tab');
      name = await page.evaluate(() => (document.activeElement?.textContent ?? '').trim());
    }
    expect(name === 'Produce', 'Produce button not reachable with Tab');
    await page.keyboard.press('Enter');
    await waitText(sent, /^2$/);
  });
  await step('WebSocket reconnects after a cut', async () => {
    for (const ws of [...sockets]) await ws.close({ code: 1012, reason: 'restart' });
    await waitText(wsStatus, /disconnected|connecting/, 3000);
    await waitText(wsStatus, /: connected/, 10_000);
  });
  await step('DLQ node shows depth; its panel lists the poison message; redrive empties it', async () => {
    await page.getByRole('button', { name: /system\.dlq \(1\)/ }).waitFor({ timeout: 5000 });
    await waitText(nodeOf('system.dlq').getByTestId('node-depth'), /^depth 1$/);
    await nodeOf('system.dlq').click();
    const panel = page.getByRole('dialog', { name: /system\.dlq/ });
    await panel.getByText('poison: amount is not a decimal').waitFor({ timeout: 5000 });
    await panel.getByText(/group ledger/).waitFor({ timeout: 5000 });
    await panel.getByRole('button', { name: 'Redrive' }).click();
    await page.getByTestId('toast-success').filter({ hasText: 'Redrove 1 message' }).waitFor({ timeout: 5000 });
    await panel.getByText('Empty.').waitFor({ timeout: 5000 });
    await page.getByRole('button', { name: /system\.dlq \(0\)/ }).waitFor({ timeout: 5000 });
  });
  await step('graph nodes lead to their page: a topic to its messages, a consumer to its group', async () => {
    await page.getByRole('button', { name: 'Close DLQ panel' }).click();
    await openTab('Banking (S3)');
    await nodeOf('bancaire.compte.ouvert').click();
    await waitHash('#/topics/bancaire.compte.ouvert');
    await page.getByTestId('message-browser').getByRole('heading', { name: /bancaire\.compte\.ouvert/ }).waitFor({ timeout: 5000 });
    await page.goBack();
    await waitHash('#/?system=banking');
    await page.getByRole('tab', { name: 'Banking (S3)', selected: true }).waitFor({ timeout: 5000 });
    await waitText(nodeOf('ledger').getByTestId('node-lag'), /^lag \d+$/);
    await nodeOf('ledger').getByRole('link', { name: 'ledger' }).focus();
    await page.keyboard.press('Enter');
    await waitHash('#/consumers/ledger');
  });
  await step('consumer group: members with throughput, pause (lag grows), resume, scale, refused scale', async () => {
    const card = page.getByTestId('consumer-group-ledger');
    await card.waitFor({ timeout: 5000 });
    await waitText(card.getByTestId('group-state'), /^running$/);
    await waitText(card.getByTestId('group-instance'), /e2e-host:4242/);
    await waitText(card.getByTestId('member-rate'), /^\d/);
    await card.getByRole('button', { name: 'Pause' }).click();
    await waitText(card.getByTestId('group-state'), /^paused$/);
    await waitText(card.getByTestId('lag-total'), /^[1-9]\d*$/);
    expect((await card.getByTestId('member-row').count()) === 0, 'a paused group still shows members');
    expect((await card.locator('[data-testid="partition-row"][data-lagging]').count()) >= 1, 'no lagging partition highlighted');
    await card.getByRole('button', { name: 'Resume' }).click();
    await waitText(card.getByTestId('group-state'), /^running$/);
    await card.getByLabel('Members').fill('3');
    await card.getByRole('button', { name: 'Scale' }).click();
    await page.getByTestId('toast-success').filter({ hasText: 'ledger now runs 3 members' }).waitFor({ timeout: 5000 });
    await waitText(card.getByTestId('members-target'), /^3$/);
    expect((await card.getByTestId('member-row').count()) === 3, 'not 3 member rows');
    await card.getByLabel('Members').fill('17');
    await card.getByRole('button', { name: 'Scale' }).click();
    await waitText(card.getByTestId('members-error'), /members: must be an integer between 1 and 16/);
    await page.getByTestId('toast-error').filter({ hasText: 'invalid `members`' }).waitFor({ timeout: 5000 });
  });
  await step('every consumer group: an observed one has no controls; edalab’s own are apart', async () => {
    const list = page.getByTestId('group-list');
    const names = await list.getByTestId('group-row').evaluateAll((rows) => rows.map((r) => r.dataset.group));
    expect(JSON.stringify(names) === JSON.stringify(['ledger', 'payment-service', 'edalab.redrive.system.dlq']), `groups ${names}`);
    await list.getByTestId('internal-groups').getByText('edalab.redrive.system.dlq').waitFor({ timeout: 2000 });
    await list.getByRole('button', { name: /^payment-service/ }).click();
    await waitHash('#/consumers/payment-service');
    const card = page.getByTestId('consumer-group-payment-service');
    await waitText(card.getByTestId('group-state'), /^observed$/);
    await waitText(card.getByTestId('lag-total'), /^2$/);
    expect((await card.getByRole('button', { name: /Pause|Resume|Scale/ }).count()) === 0, 'an observed group shows controls');
    expect((await card.getByTestId('partition-row').count()) === 1, 'the observed group’s partition is not listed');
  });
  await step('lab: the guides are listed and one opens', async () => {
    await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: 'Lab' }).click();
    const list = page.getByTestId('lab-guide-list');
    await list.waitFor({ timeout: 5000 });
    await list.getByRole('button', { name: /01 — Pub\/Sub/ }).click();
    const guide = page.getByRole('article', { name: /01 — Pub\/Sub/ });
    await guide.getByRole('heading', { name: 'Le problème' }).waitFor({ timeout: 5000 });
    await waitText(guide.locator('pre'), /edalab up/);
  });
  await step('topics: the list shows a rate; a topic opens with a decoded message; the trace filter', async () => {
    await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: 'Topics' }).click();
    const panel = page.getByTestId('topics-panel');
    await panel.waitFor({ timeout: 5000 });
    const row = panel.locator('[data-testid="topic-row"][data-topic="bancaire.compte.ouvert"]');
    await waitText(row.getByTestId('topic-rate'), /^\d/, 10_000);
    expect((await panel.locator('[data-testid="topic-row"][data-topic="system.dlq"]').getByTestId('dlq-badge').count()) === 1, 'no DLQ badge on system.dlq');
    await row.getByRole('button', { name: 'bancaire.compte.ouvert' }).click();
    await waitHash('#/topics/bancaire.compte.ouvert');
    const browser = page.getByTestId('message-browser');
    await browser.getByTestId('message-row').nth(2).waitFor({ timeout: 5000 });
    await waitText(browser.getByTestId('message-value'), /"holder": "Chloé"/);
    await waitText(browser.getByTestId('message-kind'), /^Avro #3$/);
    await waitText(browser.getByTestId('messages-scanned'), /showing 3 of 3 scanned/);
    await browser.getByRole('button', { name: 'Trace 4bf92f35' }).first().click();
    const end = Date.now() + 5000;
    while ((await browser.getByTestId('message-row').count()) !== 2 && Date.now() < end) await page.waitForTimeout(100);
    expect((await browser.getByTestId('message-row').count()) === 2, 'the trace filter did not leave the trace’s 2 events');
    expect(lastMessagesQuery?.q === trace, `messages query ${JSON.stringify(lastMessagesQuery)}`);
    expect((await browser.getByLabel('Text').inputValue()) === trace, 'the text filter is not the trace id');
  });
  await step('a simulation started elsewhere: the sidebar shows its settings, then the user’s again', async () => {
    state.run = { scenario: 'fraud-burst', pattern: 'sine', rate: 300, duration: 0 };
    state.status = 'running';
    await waitText(simStatus, /running/);
    const value = (label) => page.getByLabel(label, { exact: true }).inputValue();
    await page.getByTestId('sim-running-note').waitFor({ timeout: 5000 });
    const shown = [await value('Scenario'), await value('Pattern'), await value('Rate (events/s), exact'), await value('Duration (s, 0 = forever)')];
    expect(JSON.stringify(shown) === '["fraud-burst","sine","300","0"]', `running settings shown: ${shown}`);
    expect(await page.getByLabel('Scenario').isDisabled(), 'the scenario can be changed while running');
    state.status = 'stopped';
    await waitText(simStatus, /stopped/);
    const own = [await value('Scenario'), await value('Rate (events/s), exact')];
    expect(JSON.stringify(own) === '["banking-day","20"]', `the user's own settings did not come back: ${own}`);
  });
  expect(pageErrors.length === 0, `page errors: ${pageErrors.join('; ')}`);
  console.log(`mocked e2e ok: ${steps.length} steps; screenshot ${shot}`);
} finally {
  clearInterval(pump);
  await browser.close();
}
