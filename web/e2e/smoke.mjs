// (playwright-core launches with its own fresh, empty profile directory.)
// Smoke test in a real browser: playwright-core driving Debian's Chromium (no browser download).
//   EDALAB_URL=http://127.0.0.1:4173 npm run e2e
// Env: EDALAB_URL (required), CHROMIUM (default /usr/bin/chromium),
//      EDALAB_SCREENSHOT (default <repo>/target/ui-smoke.png).
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const url = process.env.EDALAB_URL;
if (!url) {
  console.error('EDALAB_URL is required, e.g. EDALAB_URL=http://127.0.0.1:4173');
  process.exit(2);
}
const shot = process.env.EDALAB_SCREENSHOT ?? fileURLToPath(new URL('../../target/ui-smoke.png', import.meta.url));
const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';

const fail = (msg) => {
  throw new Error(`smoke: ${msg}`);
};

const t0 = Date.now();
const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});
try {
  const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  await page.goto(url, { waitUntil: 'domcontentloaded' });

  const h1 = page.getByRole('heading', { level: 1 });
  await h1.waitFor({ timeout: 15_000 });
  if (!(await h1.textContent())?.includes('edalab')) fail('header title is not "edalab"');
  const ws = await page.getByTestId('ws-status').textContent();
  if (!/WebSocket: (connecting|connected|disconnected)/.test(ws ?? '')) fail(`bad ws status "${ws}"`);
  await page.locator('.react-flow__node').first().waitFor({ timeout: 15_000 });
  const nodes = await page.locator('.react-flow__node').count();
  if (nodes < 10) fail(`only ${nodes} flow-graph nodes`);
  await page.getByRole('button', { name: /start simulation/i }).waitFor();
  await page.getByRole('button', { name: 'Produce' }).waitFor();
  await page.waitForTimeout(1500); // let a status/metrics poll land before the picture
  mkdirSync(dirname(shot), { recursive: true });
  await page.screenshot({ path: shot, fullPage: true });
  if (pageErrors.length) fail(`page errors: ${pageErrors.join('; ')}`);
  console.log(`smoke ok: header, ws status "${ws}", ${nodes} nodes; screenshot ${shot} (${Date.now() - t0} ms)`);
} finally {
  await browser.close();
}
