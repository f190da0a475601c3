/** Minimal parser for the Prometheus text exposition format (0.0.4). */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parseValue(raw: string): number {
  switch (raw) {
    case '+Inf':
      return Infinity;
    case '-Inf':
      return -Infinity;
    case 'NaN':
      return NaN;
    default:
      return Number(raw);
  }
}

function parseLabels(src: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let i = 0;
  while (i < src.length) {
    while (i < src.length && (src[i] === ',' || src[i] === ' ')) i++;
    if (i >= src.length) break;
    const eq = src.indexOf('=', i);
    if (eq < 0) break;
    const key = src.slice(i, eq).trim();
    i = eq + 1;
    if (src[i] !== '"') break;
    i++;
    let val = '';
    while (i < src.length && src[i] !== '"') {
      if (src[i] === '\\' && i + 1 < src.length) {
        const n = src[i + 1];
        val += n === 'n' ? '\n' : n;
        i += 2;
      } else {
        val += src[i++];
      }
    }
    i++; // closing quote
    labels[key] = val;
  }
  return labels;
}

export function parsePrometheus(text: string): Sample[] {
  const out: Sample[] = [];
  for (const rawLine of text.split('\n')) {
    const line = rawLine.trim();
    if (!line || line.startsWith('#')) continue;
    let name: string;
    let labels: Record<string, string> = {};
    let rest: string;
    const brace = line.indexOf('{');
    const space = line.search(/\s/);
    if (brace >= 0 && (space < 0 || brace < space)) {
      name = line.slice(0, brace);
      // find the closing brace outside quotes
      let j = brace + 1;
      let inQ = false;
      for (; j < line.length; j++) {
        const c = line[j];
        if (c === '\\' && inQ) {
          j++;
          continue;
        }
        if (c === '"') inQ = !inQ;
        else if (c === '}' && !inQ) break;
      }
      labels = parseLabels(line.slice(brace + 1, j));
      rest = line.slice(j + 1).trim();
    } else {
      if (space < 0) continue;
      name = line.slice(0, space);
      rest = line.slice(space).trim();
    }
    const valueStr = rest.split(/\s+/)[0];
    if (valueStr === undefined || valueStr === '') continue;
    const value = parseValue(valueStr);
    if (Number.isNaN(value) && valueStr !== 'NaN') continue;
    out.push({ name, labels, value });
  }
  return out;
}

/** Sum of a metric's samples, optionally filtered by labels, grouped by one label. */
export function sumBy(samples: Sample[], name: string, label: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of samples) {
    if (s.name !== name) continue;
    const k = s.labels[label] ?? '';
    out[k] = (out[k] ?? 0) + s.value;
  }
  return out;
}

export function sum(samples: Sample[], name: string, filter?: (l: Record<string, string>) => boolean): number {
  let t = 0;
  for (const s of samples) if (s.name === name && (!filter || filter(s.labels))) t += s.value;
  return t;
}

/** The figures the UI shows, read off one scrape. */
export interface MetricsSnapshot {
  consumedByService: Record<string, number>;
  consumedByTopic: Record<string, number>;
  producedTotal: number;
  consumedTotal: number;
  lagByGroup: Record<string, number>;
  /** Lag of the application's consumer groups (edalab's own `edalab.*` groups left out). */
  totalLag: number;
  dlqDepth: Record<string, number>;
  errorsTotal: number;
  meanLatencySeconds: number | null;
}

export function snapshot(samples: Sample[]): MetricsSnapshot {
  const lagByGroup = sumBy(samples, 'edalab_consumer_lag', 'group');
  // edalab's own groups (`edalab.redrive.<dlq>`, `edalab.dlq-inspect`) are bookkeeping, not consumers.
  const consumerLag = Object.entries(lagByGroup).filter(([g]) => !g.startsWith('edalab.'));
  const latSum = sum(samples, 'edalab_message_latency_seconds_sum');
  const latCount = sum(samples, 'edalab_message_latency_seconds_count');
  return {
    consumedByService: sumBy(samples, 'edalab_messages_consumed_total', 'service'),
    consumedByTopic: sumBy(samples, 'edalab_messages_consumed_total', 'topic'),
    producedTotal: sum(samples, 'edalab_messages_produced_total'),
    consumedTotal: sum(samples, 'edalab_messages_consumed_total'),
    lagByGroup,
    totalLag: consumerLag.reduce((a, [, b]) => a + b, 0),
    dlqDepth: sumBy(samples, 'edalab_dlq_depth', 'topic'),
    errorsTotal: sum(samples, 'edalab_processing_errors_total'),
    meanLatencySeconds: latCount > 0 ? latSum / latCount : null,
  };
}
