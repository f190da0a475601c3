import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { act, fireEvent, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { edgeLabel, FlowGraph } from './FlowGraph';
import { renderWithQuery } from '../test/render';
import { mockReactFlowDom } from '../test/reactflow';
import { fake, ledgerGroup, observedGroup } from '../test/server';
import { useLive } from '../store';
import { graphFor, TOPOLOGY, type SystemId } from '../topology';

let restore: () => void;
beforeAll(() => {
  restore = mockReactFlowDom();
});
afterAll(() => restore());

const drawn = () => [...document.querySelectorAll('.react-flow__node')].map((n) => n.getAttribute('data-id')).sort();
const nodeEl = (id: string) => document.querySelector<HTMLElement>(`.react-flow__node[data-id="${id}"]`)!;
const edgeText = (id: string) => document.querySelector(`[data-testid="rf__edge-${id}"] .react-flow__edge-text`)?.textContent;
const ids = (system: SystemId) => TOPOLOGY.nodes.filter((n) => n.system === system).map((n) => n.id).sort();

describe('FlowGraph tabs', () => {
  it('opens on Banking, draws only the chosen system’s nodes, and every system on All systems', async () => {
    const user = userEvent.setup();
    renderWithQuery(<FlowGraph />);
    // The lab's system first: the all-systems overview is too dense to read at 1440×900.
    await waitFor(() => expect(drawn()).toEqual(ids('banking')));
    expect(screen.getByRole('tab', { name: 'Banking (S3)' })).toHaveAttribute('aria-selected', 'true');

    const expected: [string, SystemId, string[]][] = [
      ['Banking (S3)', 'banking', ['simulator', 'ledger', 'bancaire.compte.ouvert', 'bancaire.operation.rejetee', 'system.dlq']],
      ['Transactions (S0)', 'transactions', ['transactions-api', 'transactions-processor', 'transaction-processors', 'notifications', 'transactions-events-dlq']],
      ['Calculator (S1)', 'calculator', ['calculator-api', 'calculator-workers', 'calculatrice-output-queue', 'calculatrice-input-queue-dlq']],
      ['Orders intake (S2)', 'intake', ['intake', 'tp-orders-queue', 'tp-order-worker', 'tp-orders-dlq']],
      ['Order saga (S4)', 'saga', ['orders-api', 'payment-service', 'order-tracking', 'payments.dlq', 'orders.dlq']],
    ];
    for (const [tab, system, some] of expected) {
      await user.click(screen.getByRole('tab', { name: tab }));
      expect(screen.getByRole('tab', { name: tab })).toHaveAttribute('aria-selected', 'true');
      await waitFor(() => expect(drawn()).toEqual(ids(system)));
      expect(drawn()).toEqual(expect.arrayContaining(some));
      // The choice is remembered (store) and in the Overview's hash.
      expect(useLive.getState().graphView).toBe(system);
      expect(window.location.hash).toBe(`#/?system=${system}`);
    }
    expect(ids('banking')).not.toContain('transactions');

    await user.click(screen.getByRole('tab', { name: 'All systems' }));
    await waitFor(() => expect(drawn()).toHaveLength(TOPOLOGY.nodes.length));
    expect(window.location.hash).toBe('#/?system=all');
  });

  it('opens on the tab the hash names', async () => {
    window.history.replaceState(null, '', '/#/?system=saga');
    renderWithQuery(<FlowGraph />);
    await waitFor(() => expect(drawn()).toEqual(ids('saga')));
    expect(screen.getByRole('tab', { name: 'Order saga (S4)' })).toHaveAttribute('aria-selected', 'true');
  });

  it('a system’s edges stay inside it, and its layout is four columns at most', () => {
    for (const s of ['banking', 'transactions', 'calculator', 'intake', 'saga'] as const) {
      const g = graphFor(s);
      const inside = new Set(g.nodes.map((n) => n.id));
      for (const e of g.edges) expect(inside.has(e.source) && inside.has(e.target)).toBe(true);
      expect(new Set(g.nodes.map((n) => n.position.x)).size).toBeLessThanOrEqual(4);
    }
    expect(graphFor('all').edges).toHaveLength(TOPOLOGY.edges.length);
  });
});

describe('FlowGraph figures', () => {
  it('labels the edges into a topic with its count and rate from GET /api/v1/topics', async () => {
    fake.topics[0].end_offsets = 1234;
    useLive.getState().setGraphView('banking');
    renderWithQuery(<FlowGraph />);
    const edge = 'simulator->bancaire.compte.ouvert';
    await waitFor(() => expect(edgeText(edge)).toBe('1\u00a0234'));
    // The topic node shows the same count; the edge out of the topic to the ledger has no label.
    expect(within(nodeEl('bancaire.compte.ouvert')).getByTestId('node-count')).toHaveTextContent('1 234 msgs');
    expect(edgeText('bancaire.compte.ouvert->ledger')).toBeUndefined();
    fake.topics[0].end_offsets += 60;
    await waitFor(() => expect(edgeText(edge)).toMatch(/^1\u00a0294 · \d+(\.\d)?\/s$/), { timeout: 5000 });
    const rate = Number(edgeText(edge)!.split(' · ')[1].replace('/s', ''));
    expect(rate).toBeGreaterThan(10);
    expect(rate).toBeLessThanOrEqual(60);
    expect(document.querySelector(`[data-testid="rf__edge-${edge}"]`)).toHaveClass('animated');
  });

  it('consumer nodes show the group’s lag and committed offsets from GET /api/v1/consumers', async () => {
    fake.groups = [ledgerGroup(), observedGroup()];
    useLive.getState().setGraphView('banking');
    renderWithQuery(<FlowGraph />);
    await waitFor(() => expect(within(nodeEl('ledger')).getByTestId('node-lag')).toHaveTextContent('lag 3'));
    expect(within(nodeEl('ledger')).getByTestId('node-committed')).toHaveTextContent('committed 17');
    act(() => useLive.getState().setGraphView('saga'));
    await waitFor(() => expect(within(nodeEl('payment-service')).getByTestId('node-lag')).toHaveTextContent('lag 2'));
    expect(within(nodeEl('payment-service')).getByTestId('node-committed')).toHaveTextContent('committed 78');
  });

  it('a topic node links to its messages, a consumer node to its group, a DLQ node opens the DLQ', async () => {
    // Clicks without the mousedown d3-zoom listens to (it reads `event.view`, which jsdom's
    // synthetic pointer sequence leaves null).
    useLive.getState().setGraphView('banking');
    renderWithQuery(<FlowGraph />);
    await waitFor(() => expect(nodeEl('ledger')).toBeTruthy());
    const topicLink = within(nodeEl('bancaire.compte.ouvert')).getByRole('link', { name: 'bancaire.compte.ouvert' });
    expect(topicLink).toHaveAttribute('href', '#/topics/bancaire.compte.ouvert');
    expect(within(nodeEl('ledger')).getByRole('link', { name: 'ledger' })).toHaveAttribute('href', '#/consumers/ledger');
    expect(nodeEl('ledger')).toHaveAttribute('aria-label', expect.stringMatching(/^consumer group ledger: lag/));
    // A click anywhere on the node goes there too.
    fireEvent.click(within(nodeEl('ledger')).getByTestId('node-lag'));
    await waitFor(() => expect(window.location.hash).toBe('#/consumers/ledger'));
    const dlq = await waitFor(() => within(nodeEl('system.dlq')).getByRole('button', { name: /dead-letter queue system\.dlq/ }));
    fireEvent.click(dlq);
    expect(useLive.getState().selectedDlq).toBe('system.dlq');
  });

  it('edge labels: nothing before the first answer, the count alone before a rate', () => {
    expect(edgeLabel('t', { counts: {}, rates: {} })).toBeUndefined();
    expect(edgeLabel('t', { counts: { t: 1234567 }, rates: {} })).toBe('1\u00a0234\u00a0567');
    expect(edgeLabel('t', { counts: { t: 1234 }, rates: { t: 12.4 } })).toBe('1\u00a0234 · 12/s');
    expect(edgeLabel('t', { counts: { t: 5 }, rates: { t: 0.25 } })).toBe('5 · 0.3/s');
  });
});
