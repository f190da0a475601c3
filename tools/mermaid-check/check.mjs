// Checks that every Mermaid diagram of the docs renders: each ```mermaid (or ~~~mermaid) fenced
// block of the Markdown files found under the given paths is parsed and rendered by mermaid 11
// in Debian's Chromium, driven by playwright-core (no browser download, no network: the page is
// about:blank and mermaid's bundle is injected from node_modules).
//   node check.mjs [paths...]      files or directories (searched recursively for *.md);
//                                  default: the repository's docs/
// A diagram fails when mermaid.parse or mermaid.render throws, when render gives mermaid's error
// diagram, or when the SVG draws nothing (no shape or text outside <defs>/<marker> with a size).
// Failures are printed as file:line (the line of the opening fence) with mermaid's message; the
// exit code is 1 then, 2 on a usage error (a path that does not exist). Finding no diagram at all
// is a failure too: it more likely means a wrong path than docs without diagrams.
// Environment: CHROMIUM (default /usr/bin/chromium), MERMAID_CHECK_VERBOSE=1 (one line per diagram).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '../..');
const require = createRequire(import.meta.url);
const mermaidDir = dirname(require.resolve('mermaid/package.json'));
const mermaidBundle = join(mermaidDir, 'dist/mermaid.min.js');
const mermaidVersion = JSON.parse(readFileSync(join(mermaidDir, 'package.json'), 'utf8')).version;
const verbose = process.env.MERMAID_CHECK_VERBOSE === '1';
const RENDER_TIMEOUT_MS = 30_000;

// Paths are shown relative to the repository when inside it (docs/patterns/07-saga.md:26).
const show = (file) => {
  const rel = relative(repoRoot, file);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file;
};

function markdownFiles(path) {
  const st = statSync(path);
  if (st.isFile()) return [path];
  const out = [];
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const p = join(path, entry.name);
    if (entry.isDirectory()) out.push(...markdownFiles(p));
    else if (entry.isFile() && entry.name.toLowerCase().endsWith('.md')) out.push(p);
  }
  return out;
}

// The fenced code blocks of a Markdown file (CommonMark fences: ``` or ~~~, three or more, closed
// by the same character at least as many times). Every fence is tracked, so a ```mermaid shown
// inside a ````markdown example is not taken for a diagram. Indentation is allowed (list items).
function mermaidBlocks(file) {
  const lines = readFileSync(file, 'utf8').split(/\r?\n/);
  const blocks = [];
  const problems = [];
  let open = null;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (!open) {
      const m = /^(\s*)(`{3,}|~{3,})\s*([^\s`]*)/.exec(line);
      if (!m || (m[2][0] === '`' && line.slice(m[0].length).includes('`'))) continue;
      open = { indent: m[1].length, fence: m[2], lang: m[3].toLowerCase(), line: i + 1, body: [] };
    } else {
      const m = /^\s*(`{3,}|~{3,})\s*$/.exec(line);
      if (m && m[1][0] === open.fence[0] && m[1].length >= open.fence.length) {
        if (open.lang === 'mermaid') blocks.push({ file, line: open.line, code: open.body.join('\n') });
        open = null;
      } else {
        open.body.push(line.replace(new RegExp(`^ {0,${open.indent}}`), ''));
      }
    }
  }
  if (open && open.lang === 'mermaid') problems.push({ file, line: open.line, error: `unclosed ${open.fence}mermaid fence` });
  return { blocks, problems };
}

const args = process.argv.slice(2);
const roots = (args.length ? args : [join(repoRoot, 'docs')]).map((p) => resolve(p));
for (const r of roots) {
  try {
    statSync(r);
  } catch {
    console.error(`mermaid-check: no such file or directory: ${r}`);
    process.exit(2);
  }
}
const files = [...new Set(roots.flatMap(markdownFiles))].sort();
const diagrams = [];
const failures = [];
for (const f of files) {
  const { blocks, problems } = mermaidBlocks(f);
  diagrams.push(...blocks);
  failures.push(...problems);
}
const withDiagrams = new Set(diagrams.map((d) => d.file));

const t0 = Date.now();
if (diagrams.length) {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  if (verbose) console.log(`mermaid-check: Chromium started after ${Date.now() - t0} ms`);
  try {
    const page = await browser.newPage({ viewport: { width: 1600, height: 1200 } });
    const blocked = [];
    await page.route('**/*', (route) => {
      blocked.push(route.request().url());
      return route.abort();
    });
    const pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    await page.setContent('<!doctype html><html><head><meta charset="utf-8"></head><body><div id="host"></div></body></html>');
    await page.addScriptTag({ path: mermaidBundle });
    await page.evaluate(() => {
      if (!globalThis.mermaid) throw new Error('mermaid bundle did not define globalThis.mermaid');
      globalThis.mermaid.initialize({ startOnLoad: false, securityLevel: 'strict', deterministicIds: true });
    });
    if (verbose) console.log(`mermaid-check: mermaid ${mermaidVersion} (${show(mermaidBundle)}) loaded in Chromium ${browser.version()} after ${Date.now() - t0} ms`);

    for (const [n, d] of diagrams.entries()) {
      const started = Date.now();
      let timer;
      const res = await Promise.race([
        page.evaluate(renderInPage, { code: d.code, id: `mermaid-check-${n}` }),
        new Promise((r) => (timer = setTimeout(() => r({ ok: false, stage: 'render', error: `no result after ${RENDER_TIMEOUT_MS} ms` }), RENDER_TIMEOUT_MS))),
      ]).finally(() => clearTimeout(timer));
      const where = `${show(d.file)}:${d.line}`;
      if (res.ok) {
        if (verbose) console.log(`ok  ${where} ${res.type}: ${res.drawn} drawn elements, ${res.width}x${res.height}, ${Date.now() - started} ms`);
        continue;
      }
      // "Parse error on line N" counts from the diagram's first line: give the file's line too.
      const m = /on line (\d+)/.exec(res.error);
      const fileLine = m ? ` (diagram line ${m[1]} = ${show(d.file)}:${d.line + Number(m[1])})` : '';
      failures.push({ file: d.file, line: d.line, error: `${res.stage}${fileLine}: ${res.error}` });
    }
    if (blocked.length) console.warn(`mermaid-check: note: blocked ${blocked.length} network request(s): ${[...new Set(blocked)].join(', ')}`);
    if (pageErrors.length && verbose) console.warn(`mermaid-check: page errors: ${pageErrors.join(' | ')}`);
  } finally {
    await browser.close();
  }
}

// Runs in the page: parse, render, then measure the SVG once attached to the document.
async function renderInPage({ code, id }) {
  const host = document.getElementById('host');
  host.replaceChildren();
  let stage = 'parse';
  try {
    const parsed = await globalThis.mermaid.parse(code);
    stage = 'render';
    const { svg } = await globalThis.mermaid.render(id, code);
    host.innerHTML = svg;
    const el = host.querySelector('svg');
    if (!el) return { ok: false, stage, error: 'render returned no <svg>' };
    if (el.getAttribute('aria-roledescription') === 'error' || el.querySelector('.error-icon'))
      return { ok: false, stage, error: `mermaid drew its error diagram: ${el.textContent.trim().slice(0, 200)}` };
    const drawn = [...el.querySelectorAll('rect, path, circle, ellipse, polygon, polyline, line, text, foreignObject, image')].filter((n) => {
      if (n.closest('defs, marker, style')) return false;
      const b = n.getBBox();
      return b.width > 0 || b.height > 0;
    });
    const box = el.getBBox();
    if (!drawn.length || box.width <= 0 || box.height <= 0)
      return { ok: false, stage, error: `the SVG draws nothing (${drawn.length} drawn elements, ${box.width}x${box.height})` };
    return { ok: true, type: parsed?.diagramType ?? '?', drawn: drawn.length, width: Math.round(box.width), height: Math.round(box.height) };
  } catch (e) {
    return { ok: false, stage, error: String(e?.message ?? e?.str ?? e).trim() };
  } finally {
    host.replaceChildren();
    document.getElementById(`d${id}`)?.remove();
    document.getElementById(id)?.remove();
  }
}

if (failures.length) {
  failures.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line);
  for (const f of failures) console.error(`${show(f.file)}:${f.line}: ${f.error.replace(/\n/g, '\n    ')}`);
  console.error(`mermaid-check: ${failures.length} failure(s) among ${diagrams.length} diagrams in ${withDiagrams.size} files (mermaid ${mermaidVersion})`);
  process.exit(1);
}
if (!diagrams.length) {
  console.error(`mermaid-check: no mermaid diagram found in ${roots.map(show).join(', ')} (${files.length} Markdown files)`);
  process.exit(1);
}
console.log(`mermaid-check: ${diagrams.length} diagrams in ${withDiagrams.size} files render`);
