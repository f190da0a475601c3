import { useState, type ReactNode } from 'react';
import { useQuery } from '@tanstack/react-query';
import { BookOpen, X } from 'lucide-react';
import { api } from '../api';

/**
 * The lab (issue 22): the pattern guides of docs/patterns, served by the gateway. The list
 * shows each guide's title and first paragraph; choosing one shows its text. UI words are in
 * English, the guides in French.
 */
export function LabPanel() {
  const [selected, setSelected] = useState<string | null>(null);
  const list = useQuery({ queryKey: ['lab-guides'], queryFn: api.labGuides, staleTime: Infinity, retry: false });
  const guide = useQuery({
    queryKey: ['lab-guide', selected],
    queryFn: () => api.labGuide(selected!),
    enabled: !!selected,
    staleTime: Infinity,
    retry: false,
  });
  const guides = list.data?.guides ?? [];
  return (
    <section aria-labelledby="lab-title" data-testid="lab-panel" className="space-y-2">
      <h2 id="lab-title" className="flex items-center gap-2 text-sm font-semibold tracking-wide text-slate-300 uppercase">
        <BookOpen aria-hidden className="h-4 w-4" /> Lab: pattern guides
      </h2>
      {list.isError && <p className="text-xs text-slate-400">Not available: {(list.error as Error).message}</p>}
      {list.isPending && <p className="text-xs text-slate-400">Loading…</p>}
      {list.isSuccess && guides.length === 0 && <p className="text-xs text-slate-400">No guide.</p>}
      <div className="flex flex-col gap-3 lg:flex-row">
        <ul aria-label="Pattern guides" data-testid="lab-guide-list" className="space-y-1 lg:w-80 lg:shrink-0">
          {guides.map((g) => (
            <li key={g.id}>
              <button type="button" aria-current={selected === g.id || undefined} onClick={() => setSelected(g.id)}
                className={`w-full rounded border px-2 py-1.5 text-left hover:bg-slate-800 ${selected === g.id ? 'border-sky-600 bg-slate-800' : 'border-slate-800 bg-slate-900'}`}>
                <span className="block text-sm font-medium">{g.title}</span>
                <span className="mt-0.5 line-clamp-3 block text-xs text-slate-400">{g.summary}</span>
              </button>
            </li>
          ))}
        </ul>
        {selected && (
          <article aria-label={guide.data?.title ?? selected} data-testid="lab-guide" lang="fr"
            className="min-w-0 flex-1 rounded border border-slate-800 bg-slate-900 p-4">
            <div className="mb-2 flex justify-end">
              <button type="button" aria-label="Close guide" onClick={() => setSelected(null)} className="text-slate-400 hover:text-slate-100">
                <X aria-hidden className="h-5 w-5" />
              </button>
            </div>
            {guide.isPending && <p className="text-sm text-slate-400">Loading…</p>}
            {guide.isError && <p role="alert" className="text-sm text-red-300">Could not load the guide: {(guide.error as Error).message}</p>}
            {guide.isSuccess && <Markdown text={guide.data.markdown} />}
          </article>
        )}
      </div>
    </section>
  );
}

// A small markdown reader for the guides: headings, paragraphs, lists (nested), fenced code,
// block quotes, tables, rules; inline code, bold, italics and links. Enough for docs/patterns,
// without a dependency. Relative links point into the repository, so they are shown, not followed.

export type Block =
  | { kind: 'heading'; level: number; text: string }
  | { kind: 'paragraph'; text: string }
  | { kind: 'code'; lang: string; text: string }
  | { kind: 'list'; ordered: boolean; start: number; items: Block[][] }
  | { kind: 'quote'; blocks: Block[] }
  | { kind: 'table'; head: string[]; rows: string[][] }
  | { kind: 'rule' };

const FENCE = /^\s{0,3}(`{3,}|~{3,})\s*([^`\s]*)/;
const HEADING = /^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const ITEM = /^(\s*)([-*+]|\d{1,9}[.)])(\s+|$)/;
const RULE = /^\s{0,3}([-*_])(\s*\1){2,}\s*$/;
const QUOTE = /^\s{0,3}>\s?/;
const TABLE_SEP = /^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$/;

const blank = (l: string) => l.trim() === '';
const indentOf = (l: string) => l.match(/^\s*/)![0].replace(/\t/g, '    ').length;

function cells(line: string): string[] {
  let s = line.trim();
  if (s.startsWith('|')) s = s.slice(1);
  if (s.endsWith('|') && !s.endsWith('\\|')) s = s.slice(0, -1);
  // Split on pipes not escaped and not inside `code`.
  const out: string[] = [];
  let cur = '';
  let code = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '\\' && s[i + 1] === '|') {
      cur += '|';
      i++;
    } else if (c === '`') {
      code = !code;
      cur += c;
    } else if (c === '|' && !code) {
      out.push(cur.trim());
      cur = '';
    } else cur += c;
  }
  out.push(cur.trim());
  return out;
}

const startsBlock = (l: string, next: string | undefined) =>
  FENCE.test(l) || HEADING.test(l) || RULE.test(l) || QUOTE.test(l) || ITEM.test(l) || (l.includes('|') && next !== undefined && TABLE_SEP.test(next));

/** Markdown text as blocks. */
export function parseMarkdown(src: string): Block[] {
  const lines = src.replace(/\r\n?/g, '\n').split('\n');
  const blocks: Block[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (blank(line)) {
      i++;
      continue;
    }
    const fence = line.match(FENCE);
    if (fence) {
      const marker = fence[1];
      const indent = indentOf(line);
      const body: string[] = [];
      i++;
      while (i < lines.length && !(lines[i].trim().startsWith(marker) && lines[i].trim().replace(/[`~]/g, '') === '')) {
        body.push(lines[i].slice(Math.min(indent, indentOf(lines[i]))));
        i++;
      }
      i++; // the closing fence (or the end)
      blocks.push({ kind: 'code', lang: fence[2] ?? '', text: body.join('\n') });
      continue;
    }
    const heading = line.match(HEADING);
    if (heading) {
      blocks.push({ kind: 'heading', level: heading[1].length, text: heading[2] });
      i++;
      continue;
    }
    if (RULE.test(line)) {
      blocks.push({ kind: 'rule' });
      i++;
      continue;
    }
    if (QUOTE.test(line)) {
      const body: string[] = [];
      while (i < lines.length && QUOTE.test(lines[i])) body.push(lines[i++].replace(QUOTE, ''));
      blocks.push({ kind: 'quote', blocks: parseMarkdown(body.join('\n')) });
      continue;
    }
    if (line.includes('|') && i + 1 < lines.length && TABLE_SEP.test(lines[i + 1])) {
      const head = cells(line);
      const rows: string[][] = [];
      i += 2;
      while (i < lines.length && !blank(lines[i]) && lines[i].includes('|')) rows.push(cells(lines[i++]));
      blocks.push({ kind: 'table', head, rows });
      continue;
    }
    const item = line.match(ITEM);
    if (item) {
      const base = indentOf(line);
      const ordered = /\d/.test(item[2]);
      const items: Block[][] = [];
      let body: string[] = [];
      let contentIndent = 0;
      const flush = () => {
        if (body.length) items.push(parseMarkdown(body.join('\n')));
        body = [];
      };
      while (i < lines.length) {
        const l = lines[i];
        const m = l.match(ITEM);
        if (m && indentOf(l) === base && /\d/.test(m[2]) === ordered) {
          flush();
          contentIndent = m[0].length;
          body.push(l.slice(m[0].length));
          i++;
        } else if (blank(l)) {
          // A blank line continues the list when an indented line or another item follows.
          const next = lines.slice(i + 1).find((x) => !blank(x));
          const nm = next?.match(ITEM);
          if (next !== undefined && (indentOf(next) > base || (nm && indentOf(next) === base && /\d/.test(nm[2]) === ordered))) {
            body.push('');
            i++;
          } else break;
        } else if (indentOf(l) > base) {
          body.push(l.slice(Math.min(contentIndent, indentOf(l))));
          i++;
        } else if (!startsBlock(l, lines[i + 1]) && body.length && !blank(body[body.length - 1])) {
          body.push(l.trim()); // a lazy continuation of the item's paragraph
          i++;
        } else break;
      }
      flush();
      blocks.push({ kind: 'list', ordered, start: ordered ? parseInt(item[2], 10) : 1, items });
      continue;
    }
    const para: string[] = [];
    while (i < lines.length && !blank(lines[i]) && (para.length === 0 || !startsBlock(lines[i], lines[i + 1]))) para.push(lines[i++].trim());
    blocks.push({ kind: 'paragraph', text: para.join(' ') });
  }
  return blocks;
}

const INLINE = /(`+)([\s\S]*?[^`])\1(?!`)|\*\*([\s\S]+?)\*\*|__([\s\S]+?)__|\[([^\]]+)\]\(([^)\s]+)(?:\s+"[^"]*")?\)|\*([^*\s](?:[\s\S]*?[^*\s])?)\*|(?<![\w])_([^_\s](?:[\s\S]*?[^_\s])?)_(?![\w])/g;

/** Inline markdown: `code`, **bold**, *italics*, [links](…). */
export function inline(text: string): ReactNode[] {
  const out: ReactNode[] = [];
  let last = 0;
  let k = 0;
  for (const m of text.matchAll(INLINE)) {
    if (m.index > last) out.push(text.slice(last, m.index));
    const key = k++;
    if (m[1]) out.push(<code key={key} className="rounded bg-slate-800 px-1 text-[0.9em] text-sky-200">{m[2].trim()}</code>);
    else if (m[3] ?? m[4]) out.push(<strong key={key} className="font-semibold text-slate-50">{inline(m[3] ?? m[4])}</strong>);
    else if (m[5]) {
      const href = m[6];
      out.push(
        /^https?:\/\//.test(href) ? (
          <a key={key} href={href} target="_blank" rel="noreferrer" className="text-sky-300 underline">{inline(m[5])}</a>
        ) : (
          <span key={key} title={href} className="text-sky-200">{inline(m[5])}</span>
        ),
      );
    } else out.push(<em key={key}>{inline(m[7] ?? m[8])}</em>);
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

const HEADING_CLASS = ['text-xl font-semibold', 'mt-4 text-lg font-semibold', 'mt-3 text-base font-semibold', 'mt-2 text-sm font-semibold'];

function BlockView({ block, tight = false }: { block: Block; tight?: boolean }) {
  switch (block.kind) {
    case 'heading': {
      const H = `h${Math.min(6, block.level + 2)}` as 'h3'; // under the panel's h2
      return <H className={HEADING_CLASS[Math.min(block.level, 4) - 1]}>{inline(block.text)}</H>;
    }
    case 'paragraph':
      return tight ? <>{inline(block.text)}</> : <p>{inline(block.text)}</p>;
    case 'code':
      return (
        <pre data-lang={block.lang || undefined} className="overflow-x-auto rounded bg-slate-950 p-2 text-xs leading-snug text-slate-200">
          <code>{block.text}</code>
        </pre>
      );
    case 'list': {
      const items = block.items.map((item, i) => (
        <li key={i} className="space-y-1">
          {item.map((b, j) => <BlockView key={j} block={b} tight={item.length === 1 || (j === 0 && b.kind === 'paragraph')} />)}
        </li>
      ));
      return block.ordered ? (
        <ol start={block.start} className="list-decimal space-y-1 pl-6">{items}</ol>
      ) : (
        <ul className="list-disc space-y-1 pl-6">{items}</ul>
      );
    }
    case 'quote':
      return <blockquote className="space-y-2 border-l-2 border-slate-600 pl-3 text-slate-300"><Blocks blocks={block.blocks} /></blockquote>;
    case 'table':
      return (
        <div className="overflow-x-auto">
          <table className="text-xs">
            <thead>
              <tr className="border-b border-slate-700">{block.head.map((c, i) => <th key={i} scope="col" className="px-2 py-1 text-left font-semibold">{inline(c)}</th>)}</tr>
            </thead>
            <tbody>
              {block.rows.map((r, i) => (
                <tr key={i} className="border-b border-slate-800 align-top">{r.map((c, j) => <td key={j} className="px-2 py-1">{inline(c)}</td>)}</tr>
              ))}
            </tbody>
          </table>
        </div>
      );
    case 'rule':
      return <hr className="border-slate-700" />;
  }
}

function Blocks({ blocks }: { blocks: Block[] }) {
  return <>{blocks.map((b, i) => <BlockView key={i} block={b} />)}</>;
}

/** Markdown rendered as React elements (never as HTML: the text is not trusted to be markup). */
export function Markdown({ text }: { text: string }) {
  return (
    <div data-testid="markdown" className="space-y-3 text-sm leading-relaxed text-slate-200">
      <Blocks blocks={parseMarkdown(text)} />
    </div>
  );
}
