import { describe, expect, it } from 'vitest';
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { http, HttpResponse } from 'msw';
import { formatBytes, formatRetention, prettyValue, shownText, topicRates, TopicsPanel, valueKind } from './TopicsPanel';
import { Toasts } from './Toasts';
import { api, queryString, type TopicSummaryView } from '../api';
import { renderWithQuery } from '../test/render';
import { fake, fakeTopics, server, TRACE_A, TRACE_B } from '../test/server';

const TOPIC = 'bancaire.compte.ouvert';
const row = async (name: string) => (await screen.findAllByTestId('topic-row')).find((r) => r.getAttribute('data-topic') === name)!;
const cells = (r: HTMLElement) => within(r).getAllByRole('cell').map((c) => c.textContent);
const positions = () => screen.queryAllByTestId('message-row').map((r) => within(r).getByTestId('message-position').textContent);

async function openTopic(user: ReturnType<typeof userEvent.setup>) {
  renderWithQuery(<><TopicsPanel pollMs={500} /><Toasts /></>);
  await user.click(within(await row(TOPIC)).getByRole('button', { name: TOPIC }));
  const browser = await screen.findByTestId('message-browser');
  await waitFor(() => expect(within(browser).getAllByTestId('message-row')).toHaveLength(5));
  return browser;
}

describe('TopicsPanel', () => {
  it('lists the topics: partitions, messages, size, retention, DLQ badge', async () => {
    renderWithQuery(<TopicsPanel pollMs={500} />);
    const banking = await row(TOPIC);
    expect(screen.getAllByTestId('topic-row').map((r) => r.getAttribute('data-topic'))).toEqual([TOPIC, 'system.dlq']);
    expect(cells(banking)).toEqual([TOPIC, '3', '420', '420', '12.1 KiB', 'forever · max 1 GiB', 'delete', '—']);
    expect(within(banking).queryByTestId('dlq-badge')).not.toBeInTheDocument();
    const dlq = await row('system.dlq');
    expect(within(dlq).getByTestId('dlq-badge')).toHaveTextContent('DLQ');
    expect(within(dlq).getByTestId('topic-retention')).toHaveTextContent(/^7 d$/);
    expect(within(dlq).getByTestId('topic-size')).toHaveTextContent('512 B');
  });

  it('computes each topic’s produce rate from the change of its end offsets between polls', async () => {
    renderWithQuery(<TopicsPanel pollMs={500} />);
    const banking = await row(TOPIC);
    expect(within(banking).getByTestId('topic-rate')).toHaveTextContent('—');
    fake.topics[0].end_offsets += 50;
    fake.topics[0].messages += 50;
    await waitFor(() => expect(within(banking).getByTestId('topic-rate')).not.toHaveTextContent('—'), { timeout: 3000 });
    const rate = Number(within(banking).getByTestId('topic-rate').textContent);
    expect(rate).toBeGreaterThan(10);
    expect(rate).toBeLessThanOrEqual(100);
    expect(within(banking).getByTestId('topic-messages')).toHaveTextContent('470');
    // Nothing produced on the DLQ: a rate of zero once two polls are in.
    await waitFor(() => expect(within(screen.getAllByTestId('topic-row')[1]).getByTestId('topic-rate')).toHaveTextContent('0.0'));
  });

  it('filters the list by name', async () => {
    const user = userEvent.setup();
    renderWithQuery(<TopicsPanel pollMs={500} />);
    await row(TOPIC);
    await user.type(screen.getByLabelText('Filter topics'), 'dlq');
    expect(screen.getAllByTestId('topic-row').map((r) => r.getAttribute('data-topic'))).toEqual(['system.dlq']);
  });

  it('opening a topic lists its messages decoded, newest first', async () => {
    const user = userEvent.setup();
    const browser = await openTopic(user);
    const b = within(browser);
    expect(b.getByRole('heading', { name: `Messages of ${TOPIC}` })).toBeInTheDocument();
    expect(positions()).toEqual(['p1 @1', 'p0 @1', 'p2 @0', 'p1 @0', 'p0 @0']);
    expect(fake.lastMessagesQuery).toEqual({ limit: '50' });
    expect(b.getByTestId('messages-scanned')).toHaveTextContent('showing 5 of 5 scanned · newest first');
    // Partitions from the topic's detail.
    expect(b.getByLabelText('Partition').querySelectorAll('option')).toHaveLength(4);
    expect(b.getByTestId('partition-offsets')).toHaveTextContent('p0 · offsets 0–2 · 200 B');

    const rows = b.getAllByTestId('message-row');
    // Not decoded: bytes, no key, the reason.
    const raw = within(rows[0]);
    expect(raw.getByTestId('message-kind')).toHaveTextContent('bytes');
    expect(raw.getByTestId('message-key')).toHaveTextContent('—');
    expect(raw.getByTestId('message-value-error')).toHaveTextContent('Not decoded: no magic byte');
    expect(raw.getByTestId('message-value')).toHaveTextContent('"base64": "3q2+7w=="');
    expect(raw.queryByTestId('trace-filter')).not.toBeInTheDocument();

    // Avro, decoded to JSON: a few lines shown, the rest on demand.
    const avro = within(rows[1]);
    expect(rows[1]).toHaveAttribute('data-partition', '0');
    expect(rows[1]).toHaveAttribute('data-offset', '1');
    expect(avro.getByTestId('message-kind')).toHaveTextContent('Avro #3');
    expect(avro.getByTestId('message-key')).toHaveTextContent('ACC-1');
    const value = avro.getByTestId('message-value');
    expect(value.tagName).toBe('PRE');
    expect(value).toHaveTextContent('"holder": "Alice"');
    expect(value).not.toHaveTextContent('opened_at');
    await user.click(avro.getByRole('button', { name: /Expand value/ }));
    expect(value).toHaveTextContent('"opened_at": "2025-12-06T05:46:43.000Z"');
    expect(avro.getByRole('button', { name: 'Collapse value' })).toHaveAttribute('aria-expanded', 'true');
    // Headers, collapsed under a summary.
    expect(avro.getByText('Headers (3)')).toBeInTheDocument();
    expect(avro.getByTestId('message-headers')).toHaveTextContent(`traceparent00-${TRACE_A}-00f067aa0ba902b7-01`);
    expect(avro.getByRole('button', { name: 'Trace 4bf92f35' })).toBeInTheDocument();

    await user.click(b.getByRole('button', { name: 'Close message browser' }));
    expect(screen.queryByTestId('message-browser')).not.toBeInTheDocument();
  });

  it('sends the partition, key, text, limit and offset chosen', async () => {
    const user = userEvent.setup();
    const b = within(await openTopic(user));

    await user.selectOptions(b.getByLabelText('Partition'), '1');
    await waitFor(() => expect(fake.lastMessagesQuery).toEqual({ partition: '1', limit: '50' }));
    await waitFor(() => expect(positions()).toEqual(['p1 @1', 'p1 @0']));

    await user.type(b.getByLabelText('Key'), 'ACC-2');
    await waitFor(() => expect(fake.lastMessagesQuery).toEqual({ partition: '1', key: 'ACC-2', limit: '50' }));
    await waitFor(() => expect(positions()).toEqual(['p1 @0']));

    await user.clear(b.getByLabelText('Key'));
    await user.selectOptions(b.getByLabelText('Partition'), 'All');
    await user.type(b.getByLabelText('Text'), 'Chloé');
    await waitFor(() => expect(fake.lastMessagesQuery).toEqual({ q: 'Chloé', limit: '50' }));
    await waitFor(() => expect(positions()).toEqual(['p2 @0']));

    await user.clear(b.getByLabelText('Text'));
    await user.selectOptions(b.getByLabelText('Limit'), '20');
    await waitFor(() => expect(fake.lastMessagesQuery).toEqual({ limit: '20' }));

    // From an offset: oldest first.
    await user.type(b.getByLabelText('Offset'), '1');
    await waitFor(() => expect(fake.lastMessagesQuery).toEqual({ offset: '1', limit: '20' }));
    await waitFor(() => expect(positions()).toEqual(['p0 @1', 'p1 @1']));
    expect(b.getByTestId('messages-scanned')).toHaveTextContent('showing 2 of 2 scanned · from offset 1 upwards');
  });

  it('Refresh asks again and shows new messages', async () => {
    const user = userEvent.setup();
    const b = within(await openTopic(user));
    const msgs = fake.topicMessages[TOPIC];
    msgs.push({ ...msgs[0], partition: 2, offset: 1, timestamp: msgs[0].timestamp + 9000, key: 'ACC-9' });
    await user.click(b.getByRole('button', { name: 'Refresh' }));
    await waitFor(() => expect(positions()[0]).toBe('p2 @1'));
    expect(b.getAllByTestId('message-row')).toHaveLength(6);
  });

  it('the trace button shows the trace’s events on the topic', async () => {
    const user = userEvent.setup();
    const b = within(await openTopic(user));
    await user.click(b.getAllByRole('button', { name: 'Trace 4bf92f35' })[0]);
    await waitFor(() => expect(fake.lastMessagesQuery).toEqual({ q: TRACE_A, limit: '50' }));
    expect(b.getByLabelText('Text')).toHaveValue(TRACE_A);
    await waitFor(() => expect(positions()).toEqual(['p0 @1', 'p0 @0']));
    expect(b.getAllByRole('button', { name: 'Trace 4bf92f35' })[0]).toHaveAttribute('aria-pressed', 'true');

    // The other filters go: the trace's events wherever they are.
    await user.selectOptions(b.getByLabelText('Partition'), '1');
    await waitFor(() => expect(fake.lastMessagesQuery).toEqual({ partition: '1', q: TRACE_A, limit: '50' }));
    await user.clear(b.getByLabelText('Text'));
    await waitFor(() => expect(positions()).toEqual(['p1 @1', 'p1 @0']));
    await user.click(b.getByRole('button', { name: 'Trace 0af76519' }));
    await waitFor(() => expect(fake.lastMessagesQuery).toEqual({ q: TRACE_B, limit: '50' }));
    expect(b.getByLabelText('Partition')).toHaveValue('');
  });

  it('shows a refused offset next to its input and in a toast', async () => {
    const user = userEvent.setup();
    const b = within(await openTopic(user));
    const offset = b.getByLabelText('Offset');
    await user.type(offset, '-5');
    const message = 'must be a non-negative integer, got `-5`';
    expect(await b.findByTestId('offset-error')).toHaveTextContent(`offset: ${message}`);
    expect(offset).toHaveAttribute('aria-invalid', 'true');
    expect(offset).toHaveAccessibleDescription(`offset: ${message}`);
    expect(b.getByTestId('messages-error')).toHaveTextContent(`Could not read messages: invalid \`offset\`: ${message}`);
    expect(await screen.findByTestId('toast-error')).toHaveTextContent(`Messages of ${TOPIC}: invalid \`offset\`: ${message}`);
    expect(b.queryAllByTestId('message-row')).toHaveLength(0);
    // Fixing it clears it.
    await user.clear(offset);
    await user.type(offset, '0');
    await waitFor(() => expect(b.queryByTestId('offset-error')).not.toBeInTheDocument());
    expect(offset).not.toHaveAttribute('aria-invalid');
    await waitFor(() => expect(b.getAllByTestId('message-row')).toHaveLength(5));
  });

  it('shows a refused partition next to its select', async () => {
    server.use(
      http.get('*/api/v1/topics/:topic/messages', () =>
        HttpResponse.json(
          { error: 'topic `a` has no partition 2 (it has 2)', code: 'not_found', details: [{ field: 'partition', message: 'topic has no partition 2 (it has 2)' }] },
          { status: 404 },
        ),
      ),
    );
    const user = userEvent.setup();
    renderWithQuery(<TopicsPanel pollMs={500} />);
    await user.click(within(await row(TOPIC)).getByRole('button', { name: TOPIC }));
    expect(await screen.findByTestId('partition-error')).toHaveTextContent('partition: topic has no partition 2 (it has 2)');
    expect(screen.getByLabelText('Partition')).toHaveAttribute('aria-invalid', 'true');
  });

  it('says when a topic is gone', async () => {
    const user = userEvent.setup();
    renderWithQuery(<TopicsPanel pollMs={500} />);
    await user.click(within(await row('system.dlq')).getByRole('button', { name: 'system.dlq' }));
    fake.topics = fakeTopics().slice(0, 1);
    await user.click(await screen.findByRole('button', { name: 'Refresh' }));
    expect(await screen.findByTestId('messages-error')).toHaveTextContent('unknown topic `system.dlq` (topic: no such topic)');
  });

  it('says when the back end does not offer it', async () => {
    server.use(http.get('*/api/v1/topics', () => HttpResponse.json({ error: 'no route', code: 'route_not_found', details: [] }, { status: 404 })));
    renderWithQuery(<TopicsPanel />);
    expect(await screen.findByText(/Not available: no route/)).toBeInTheDocument();
  });
});

describe('topicRates', () => {
  const topic = (end: number): TopicSummaryView => ({ ...fakeTopics()[0], end_offsets: end });

  it('is the change of the end offsets over the time between answers', () => {
    const first = topicRates(new Map(), {}, [topic(100)], 1000);
    expect(first.rates).toEqual({});
    const second = topicRates(first.samples, first.rates, [topic(150)], 3000);
    expect(second.rates[TOPIC]).toBe(25);
  });

  it('keeps the previous sample for answers too close together, and drops an end that went back', () => {
    const a = topicRates(new Map(), {}, [topic(0)], 0);
    const b = topicRates(a.samples, a.rates, [topic(10)], 1000);
    expect(b.rates[TOPIC]).toBe(10);
    const c = topicRates(b.samples, b.rates, [topic(12)], 1100);
    expect(c.rates[TOPIC]).toBe(10);
    expect(c.samples.get(TOPIC)).toEqual({ at: 1000, count: 10 });
    expect(topicRates(c.samples, c.rates, [topic(3)], 2000).rates).toEqual({});
  });
});

describe('formats', () => {
  it('sizes in binary units', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1024)).toBe('1 KiB');
    expect(formatBytes(12_345)).toBe('12.1 KiB');
    expect(formatBytes(1_073_741_824)).toBe('1 GiB');
  });

  it('retention: forever, or the largest unit', () => {
    expect(formatRetention(null)).toBe('forever');
    expect(formatRetention(604_800_000)).toBe('7 d');
    expect(formatRetention(5_400_000)).toBe('1.5 h');
    expect(formatRetention(90_000)).toBe('1.5 min');
    expect(formatRetention(1000)).toBe('1 s');
    expect(formatRetention(250)).toBe('250 ms');
  });

  it('keys, values and their kind', () => {
    expect(shownText(null)).toBeNull();
    expect(shownText('ACC-1')).toBe('ACC-1');
    expect(shownText({ base64: 'AAE=' })).toBe('base64:AAE=');
    expect(valueKind({ value: { a: 1 }, value_schema_id: 3 })).toBe('Avro #3');
    expect(valueKind({ value: { a: 1 }, value_schema_id: null })).toBe('JSON');
    expect(valueKind({ value: 'hello', value_schema_id: null })).toBe('text');
    expect(valueKind({ value: { base64: 'AAE=' }, value_schema_id: null })).toBe('bytes');
    expect(prettyValue({ a: 1 })).toBe('{\n  "a": 1\n}');
    expect(prettyValue('plain')).toBe('plain');
  });
});

describe('api.topicMessages', () => {
  it('sends only the parameters given', async () => {
    expect(queryString({ partition: '', offset: null, key: undefined, q: 'x y', limit: 20 })).toBe('?q=x+y&limit=20');
    expect(queryString({})).toBe('');
    const r = await api.topicMessages(TOPIC, { partition: 0, offset: 0, key: 'ACC-1', q: '', limit: 5 });
    expect(fake.lastMessagesQuery).toEqual({ partition: '0', offset: '0', key: 'ACC-1', limit: '5' });
    expect(r.messages.map((m) => `${m.partition}@${m.offset}`)).toEqual(['0@0', '0@1']);
  });
});
