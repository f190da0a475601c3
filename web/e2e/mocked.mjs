// Browser test of the UI's behaviour with the gateway faked *inside the browser*:
// playwright-core's page.route (REST, /metrics) and page.routeWebSocket (/ws) — no back end,
// no extra packages. Covers issue 9's scenarios that do not need real services: start/stop,
// produce (toast + counter), edges animate and counters grow, WebSocket reconnects after a cut,
// DLQ node → messages → redrive, keyboard access, issue 22's consumer-group controls (pause,
// scale, a refused scale) and lab guides, and issue 23's topic browser (list with a rate, a
// decoded message, the trace filter). The same scenarios against a real
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
  dlq: [{ partition: 0, offset: 7, key: 'acc-1', error: 'poison: amount is not a decimal', attempts: 3, origin_topic: 'bancaire.depot.effectue', origin_partition: 1, origin_offset: 12, group: 'ledger', first_failure_ms: Date.now() - 5000, last_failure_ms: Date.now() - 1000, value: null }],
};
// The consumer group `GET /api/v1/consumers` shows (crates/gateway/src/consumers.rs's shape).
const ledger = {
  group: 'ledger',
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
const guides = [
  { id: '01-pub-sub', title: '01 — Pub/Sub : un fait, plusieurs lecteurs', summary: 'Un producteur publie un fait une fois ; chaque groupe le lit à son rythme.' },
  { id: '03-partitions', title: '03 — Partitions et groupes de consommateurs', summary: 'Une partition est lue par un seul membre du groupe.' },
];
const guideMarkdown = '# 01 — Pub/Sub : un fait, plusieurs lecteurs\n\n## Le problème\n\nUn **producteur** ne connaît pas ses lecteurs.\n\n```bash\nedalab up\n```\n';
// The topics `GET /api/v1/topics` lists and one topic's messages (crates/gateway/src/topics.rs).
const topics = [
  { name: 'bancaire.compte.ouvert', partitions: 2, retention_ms: null, retention_bytes: 1073741824, compression: 'none', cleanup_policy: 'delete', size_bytes: 12345, messages: 420, end_offsets: 420, dlq: false },
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
  const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  if (process.env.DEBUG_E2E) page.on('console', (m) => console.log('console:', m.text()));

  await page.route('**/metrics', (r) => r.fulfill({ contentType: 'text/plain', body: metricsText() }));
  await page.route('**/api/v1/**', async (route) => {
    const req = route.request();
    const path = new URL(req.url()).pathname;
    const m = req.method();
    if (m === 'GET' && path === '/api/v1/simulation/status')
      return json(route, { status: state.status, simulation_id: state.status === 'running' ? 'sim-e2e' : null, events_produced: state.events, started_at: state.startedAt, rate_actual: state.status === 'running' ? 20 : 0 });
    if (m === 'POST' && path === '/api/v1/simulation/start') {
      if (state.status === 'running') return json(route, { error: 'simulation already running' }, 409);
      state.lastStart = req.postDataJSON();
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
      return json(route, { events_produced: count, event_ids: Array.from({ length: count }, (_, i) => `e${i}`) });
    }
    if (path === '/api/v1/saga/credit-bureau') {
      if (m === 'PUT') state.bureauFailing = req.postDataJSON().failing ?? state.bureauFailing;
      return json(route, { failing: state.bureauFailing ?? false, latency_ms: 0, breaker: 'closed' });
    }
    if (m === 'GET' && path === '/api/v1/health') return json(route, { status: 'healthy', kafka: 'connected', postgres: 'connected' });
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
      return json(route, { groups: [ledger] });
    }
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
      topics[0].end_offsets += 3;
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

  await step('header connects the WebSocket', () => waitText(wsStatus, /: connected/));
  await step('start a simulation: status and counter change', async () => {
    await page.getByLabel('Scenario').selectOption('banking-day');
    await page.getByLabel('Rate (events/s), exact').fill('20');
    await page.getByRole('button', { name: /start simulation/i }).click();
    await waitText(simStatus, /running/);
    await waitText(simEvents, /^[1-9]\d*$/);
    expect(state.lastStart?.scenario === 'banking-day' && state.lastStart?.rate === 20, `start body ${JSON.stringify(state.lastStart)}`);
  });
  await step('edges animate, show events/s, and node counters grow', async () => {
    await page.locator('.react-flow__edge.animated').first().waitFor({ timeout: 5000 });
    const label = await page.locator('.react-flow__edge-textwrapper').first().textContent();
    expect(/\d+\/s/.test(label ?? ''), `edge label "${label}"`);
    const node = page.locator('.react-flow__node', { hasText: 'bancaire.depot.effectue' });
    await waitText(node, /[1-9]\d* msgs/);
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
    await page.locator('.react-flow__node', { hasText: 'system.dlq' }).click();
    const panel = page.getByRole('dialog', { name: /system\.dlq/ });
    await panel.getByText('poison: amount is not a decimal').waitFor({ timeout: 5000 });
    await panel.getByText(/group ledger/).waitFor({ timeout: 5000 });
    await panel.getByRole('button', { name: 'Redrive' }).click();
    await page.getByTestId('toast-success').filter({ hasText: 'Redrove 1 message' }).waitFor({ timeout: 5000 });
    await panel.getByText('Empty.').waitFor({ timeout: 5000 });
    await page.getByRole('button', { name: /system\.dlq \(0\)/ }).waitFor({ timeout: 5000 });
  });
  await step('consumer group: members with throughput, pause (lag grows), resume, scale, refused scale', async () => {
    const card = page.getByTestId('consumer-group-ledger');
    await card.scrollIntoViewIfNeeded();
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
  await step('lab: the guides are listed and one opens', async () => {
    const list = page.getByTestId('lab-guide-list');
    await list.scrollIntoViewIfNeeded();
    await list.getByRole('button', { name: /01 — Pub\/Sub/ }).click();
    const guide = page.getByRole('article', { name: /01 — Pub\/Sub/ });
    await guide.getByRole('heading', { name: 'Le problème' }).waitFor({ timeout: 5000 });
    await waitText(guide.locator('pre'), /edalab up/);
  });
  await step('topics: the list shows a rate; a topic opens with a decoded message; the trace filter', async () => {
    const panel = page.getByTestId('topics-panel');
    await panel.scrollIntoViewIfNeeded();
    const row = panel.locator('[data-testid="topic-row"][data-topic="bancaire.compte.ouvert"]');
    await waitText(row.getByTestId('topic-rate'), /^\d/, 10_000);
    expect((await panel.locator('[data-testid="topic-row"][data-topic="system.dlq"]').getByTestId('dlq-badge').count()) === 1, 'no DLQ badge on system.dlq');
    await row.getByRole('button', { name: 'bancaire.compte.ouvert' }).click();
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
  expect(pageErrors.length === 0, `page errors: ${pageErrors.join('; ')}`);
  console.log(`mocked e2e ok: ${steps.length} steps; screenshot ${shot}`);
} finally {
  clearInterval(pump);
  await browser.close();
}
