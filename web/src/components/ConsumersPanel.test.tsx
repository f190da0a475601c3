import { describe, expect, it } from 'vitest';
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { http, HttpResponse } from 'msw';
import { ConsumersPanel, errorText, memberKey, memberRates, shownGroup } from './ConsumersPanel';
import { Toasts } from './Toasts';
import { api, ApiError } from '../api';
import { useAuth } from '../auth';
import { renderWithQuery } from '../test/render';
import { fake, internalGroup, ledgerGroup, observedGroup, server } from '../test/server';

const groupCard = () => screen.findByTestId('consumer-group-ledger');

describe('ConsumersPanel', () => {
  it('shows a group: state, target, instance, members, partitions and lag', async () => {
    renderWithQuery(<ConsumersPanel />);
    const card = await groupCard();
    const g = within(card);
    expect(g.getByRole('heading', { name: 'ledger' })).toBeInTheDocument();
    expect(g.getByTestId('group-state')).toHaveTextContent('running');
    expect(g.getByTestId('members-target')).toHaveTextContent('1');
    expect(g.getByTestId('group-instance')).toHaveTextContent('host:1234');
    expect(g.getByTestId('lag-total')).toHaveTextContent('3');
    expect(g.getByTestId('lag-total')).toHaveAttribute('data-lagging', 'true');

    const members = g.getAllByTestId('member-row');
    expect(members).toHaveLength(1);
    expect(within(members[0]).getByTestId('member-partition-count')).toHaveTextContent('2');
    expect(members[0]).toHaveTextContent('bancaire.compte.ouvert/0, bancaire.depot.effectue/0');
    expect(within(members[0]).getByTestId('member-done')).toHaveTextContent('123');

    const rows = g.getAllByTestId('partition-row');
    expect(rows).toHaveLength(2);
    const cells = (row: HTMLElement) => within(row).getAllByRole('cell').map((c) => c.textContent);
    expect(cells(rows[0])).toEqual(['bancaire.compte.ouvert/0', '17', '20', '3', 'member 1']);
    expect(rows[0]).toHaveAttribute('data-lagging', 'true');
    expect(within(rows[0]).getByTestId('partition-lag')).toHaveClass('text-amber-300');
    // Nothing committed yet: a dash, and no highlight without lag.
    expect(cells(rows[1])).toEqual(['bancaire.depot.effectue/0', '—', '0', '0', 'member 1']);
    expect(rows[1]).not.toHaveAttribute('data-lagging');
  });

  it('shows a partition held by no member of this process as a dash', async () => {
    const g = ledgerGroup();
    g.partitions[1].member = null;
    fake.groups = [g];
    renderWithQuery(<ConsumersPanel />);
    const rows = within(await groupCard()).getAllByTestId('partition-row');
    expect(within(rows[1]).getAllByRole('cell').at(-1)).toHaveTextContent(/^—$/);
  });

  it('computes each member’s throughput from the change between polls', async () => {
    renderWithQuery(<ConsumersPanel />);
    const card = await groupCard();
    expect(within(card).getByTestId('member-rate')).toHaveTextContent('—');
    fake.groups[0].members[0].messages_done_total += 50;
    await waitFor(() => expect(within(card).getByTestId('member-rate')).not.toHaveTextContent('—'), { timeout: 3000 });
    const rate = Number(within(card).getByTestId('member-rate').textContent);
    expect(rate).toBeGreaterThan(20);
    expect(rate).toBeLessThanOrEqual(100);
  });

  it('Pause posts to the group’s pause route and shows the paused group it answers', async () => {
    const user = userEvent.setup();
    let seen: { path: string; method: string; body: string; auth: string | null } | null = null;
    server.events.on('request:start', async ({ request }) => {
      if (request.url.includes('/pause')) seen = { path: new URL(request.url).pathname, method: request.method, body: await request.clone().text(), auth: request.headers.get('authorization') };
    });
    useAuth.getState().setToken('t0k3n');
    try {
      renderWithQuery(<><ConsumersPanel /><Toasts /></>);
      const card = await groupCard();
      expect(within(card).getByRole('button', { name: 'Resume' })).toBeDisabled();
      await user.click(within(card).getByRole('button', { name: 'Pause' }));
      expect(await screen.findByTestId('toast-success')).toHaveTextContent('Paused ledger');
      expect(seen).toEqual({ path: '/api/v1/consumers/ledger/pause', method: 'POST', body: '', auth: 'Bearer t0k3n' });
      expect(within(card).getByTestId('group-state')).toHaveTextContent('paused');
      expect(within(card).queryAllByTestId('member-row')).toHaveLength(0);
      expect(within(card).getByText(/the group is paused/)).toBeInTheDocument();
      for (const row of within(card).getAllByTestId('partition-row')) expect(within(row).getAllByRole('cell').at(-1)).toHaveTextContent('—');
      expect(within(card).getByRole('button', { name: 'Pause' })).toBeDisabled();

      await user.click(within(card).getByRole('button', { name: 'Resume' }));
      await waitFor(() => expect(within(card).getByTestId('group-state')).toHaveTextContent('running'));
      expect(fake.groups[0].state).toBe('running');
    } finally {
      server.events.removeAllListeners();
      useAuth.getState().signOut();
    }
  });

  it('Scale sends PUT {"members": 3} and shows the new members', async () => {
    const user = userEvent.setup();
    let method = '';
    let contentType: string | null = null;
    server.events.on('request:start', ({ request }) => {
      if (request.url.endsWith('/api/v1/consumers/ledger/members')) {
        method = request.method;
        contentType = request.headers.get('content-type');
      }
    });
    try {
      renderWithQuery(<><ConsumersPanel /><Toasts /></>);
      const card = await groupCard();
      const input = within(card).getByLabelText('Members');
      expect(input).toHaveValue(1);
      await user.clear(input);
      await user.type(input, '3');
      await user.click(within(card).getByRole('button', { name: 'Scale' }));
      expect(await screen.findByTestId('toast-success')).toHaveTextContent('ledger now runs 3 members');
      expect(method).toBe('PUT');
      expect(contentType).toBe('application/json');
      expect(fake.lastScale).toEqual({ members: 3 });
      expect(within(card).getByTestId('members-target')).toHaveTextContent('3');
      // Two partitions for three members: one is left without any.
      const counts = within(card).getAllByTestId('member-partition-count').map((c) => c.textContent);
      expect(counts).toEqual(['1', '1', '0']);
      expect(input).toHaveValue(3);
    } finally {
      server.events.removeAllListeners();
    }
  });

  it('shows a refused scale: the toast and the field’s message', async () => {
    const user = userEvent.setup();
    renderWithQuery(<><ConsumersPanel /><Toasts /></>);
    const card = await groupCard();
    const input = within(card).getByLabelText('Members');
    await user.clear(input);
    await user.type(input, '17');
    await user.click(within(card).getByRole('button', { name: 'Scale' }));
    expect(await screen.findByTestId('toast-error')).toHaveTextContent('Scale ledger failed: invalid `members`: must be an integer between 1 and 16');
    expect(within(card).getByTestId('members-error')).toHaveTextContent('members: must be an integer between 1 and 16');
    expect(input).toHaveAttribute('aria-invalid', 'true');
    expect(fake.lastScale).toEqual({ members: 17 });
    expect(within(card).getByTestId('members-target')).toHaveTextContent('1');
    // Typing again clears it.
    await user.type(input, '{backspace}');
    expect(within(card).queryByTestId('members-error')).not.toBeInTheDocument();
  });

  it('shows a field message the error text does not already say', async () => {
    server.use(
      http.put('*/api/v1/consumers/:group/members', () =>
        HttpResponse.json({ error: 'Invalid scale body', code: 'validation_failed', details: [{ field: 'members', message: 'too many for 4 partitions' }] }, { status: 400 }),
      ),
    );
    const user = userEvent.setup();
    renderWithQuery(<><ConsumersPanel /><Toasts /></>);
    const card = await groupCard();
    await user.click(within(card).getByRole('button', { name: 'Scale' }));
    expect(await screen.findByTestId('toast-error')).toHaveTextContent('Invalid scale body (members: too many for 4 partitions)');
    expect(within(card).getByTestId('members-error')).toHaveTextContent('members: too many for 4 partitions');
  });

  it('says when the back end does not offer it', async () => {
    server.use(http.get('*/api/v1/consumers', () => HttpResponse.json({ error: 'no route', code: 'route_not_found', details: [] }, { status: 404 })));
    renderWithQuery(<ConsumersPanel />);
    expect(await screen.findByText(/Not available: no route/)).toBeInTheDocument();
  });

  it('says when no group runs', async () => {
    fake.groups = [];
    renderWithQuery(<ConsumersPanel />);
    expect(await screen.findByText('No consumer group on the bus yet.')).toBeInTheDocument();
  });
});

describe('ConsumersPanel: every group of the bus', () => {
  const rows = () => screen.getAllByTestId('group-row');
  const cells = (row: HTMLElement) => within(row).getAllByRole('cell').map((c) => c.textContent);

  it('lists the application’s groups, then edalab’s own under an Internal marker, dimmed', async () => {
    fake.groups = [internalGroup(), ledgerGroup(), observedGroup()];
    renderWithQuery(<ConsumersPanel />);
    await screen.findByTestId('consumer-group-ledger');
    expect(rows().map((r) => r.getAttribute('data-group'))).toEqual(['ledger', 'payment-service', 'edalab.redrive.system.dlq']);
    const [ledger, payment, redrive] = rows();
    expect(within(ledger).getByTestId('group-row-state')).toHaveTextContent('running');
    expect(within(ledger).getByTestId('group-row-lag')).toHaveTextContent('3');
    expect(within(ledger).getByTestId('group-row-partitions')).toHaveTextContent('2');
    expect(within(payment).getByTestId('group-row-state')).toHaveTextContent('observed');
    expect(within(payment).getByTestId('group-row-lag')).toHaveTextContent('2');
    const internal = screen.getByTestId('internal-groups');
    expect(internal).toHaveTextContent(/^Internal/);
    expect(internal).toHaveClass('opacity-60');
    expect(within(internal).getByTestId('group-row')).toBe(redrive);
    expect(within(redrive).getByTestId('group-row-lag')).toHaveTextContent('7');
    expect(within(redrive).getByTestId('group-row-partitions')).toHaveTextContent('1');
    // With none asked for, the detail is the first group edalab runs.
    expect(ledger).toHaveAttribute('aria-current', 'true');
  });

  it('an observed group: members none, partitions with committed, end, lag and holder, and no control', async () => {
    const user = userEvent.setup();
    fake.groups = [ledgerGroup(), observedGroup()];
    renderWithQuery(<ConsumersPanel />);
    await screen.findByTestId('consumer-group-ledger');
    await user.click(screen.getByRole('button', { name: /^payment-service/ }));
    const card = await screen.findByTestId('consumer-group-payment-service');
    const g = within(card);
    expect(card).toHaveAttribute('data-controllable', 'false');
    expect(g.getByTestId('group-state')).toHaveTextContent('observed');
    expect(g.getByTestId('lag-total')).toHaveTextContent('2');
    expect(g.getByTestId('group-observed')).toHaveTextContent('consumers run without pause, resume or scale');
    for (const name of ['Pause', 'Resume', 'Scale']) expect(g.queryByRole('button', { name })).not.toBeInTheDocument();
    expect(g.queryByLabelText('Members')).not.toBeInTheDocument();
    expect(g.queryByTestId('members-target')).not.toBeInTheDocument();
    expect(g.queryByTestId('group-instance')).not.toBeInTheDocument();
    expect(g.queryAllByTestId('member-row')).toHaveLength(0);
    expect(g.getByText('Members are shown for controllable groups only.')).toBeInTheDocument();
    const parts = g.getAllByTestId('partition-row');
    expect(parts.map(cells)).toEqual([
      ['orders.created/0', '40', '42', '2', '—'],
      ['orders.created/1', '38', '38', '0', '—'],
    ]);
    expect(parts[0]).toHaveAttribute('data-lagging', 'true');
    expect(screen.queryByTestId('consumer-group-ledger')).not.toBeInTheDocument();
  });

  it('a controllable group keeps its controls, whether the server says so or not', async () => {
    fake.groups = [{ ...ledgerGroup(), controllable: true }];
    renderWithQuery(<ConsumersPanel />);
    const card = await groupCard();
    expect(card).toHaveAttribute('data-controllable', 'true');
    expect(within(card).getByRole('button', { name: 'Pause' })).toBeEnabled();
    expect(within(card).getByRole('button', { name: 'Scale' })).toBeEnabled();
    expect(within(card).queryByTestId('group-observed')).not.toBeInTheDocument();
  });

  it('follows the caller’s choice when given one', async () => {
    const user = userEvent.setup();
    fake.groups = [ledgerGroup(), observedGroup()];
    const chosen: string[] = [];
    renderWithQuery(<ConsumersPanel selected="payment-service" onSelect={(g) => chosen.push(g)} />);
    expect(await screen.findByTestId('consumer-group-payment-service')).toBeInTheDocument();
    await user.click(screen.getByRole('button', { name: /^ledger/ }));
    expect(chosen).toEqual(['ledger']);
    // The caller did not change `selected`: the detail stays.
    expect(screen.getByTestId('consumer-group-payment-service')).toBeInTheDocument();
  });

  it('the fake refuses the controls of an observed group with a 409, as the server does', async () => {
    fake.groups = [observedGroup()];
    await expect(api.pauseGroup('payment-service')).rejects.toMatchObject({ status: 409, code: 'conflict' });
    await expect(api.scaleGroup('payment-service', 2)).rejects.toMatchObject({ status: 409 });
  });

  it('picks the group to show', () => {
    const groups = [internalGroup(), observedGroup(), ledgerGroup()];
    expect(shownGroup(groups, 'payment-service')?.group).toBe('payment-service');
    expect(shownGroup(groups, null)?.group).toBe('ledger');
    expect(shownGroup([internalGroup(), observedGroup()], undefined)?.group).toBe('payment-service');
    expect(shownGroup([internalGroup()], undefined)?.group).toBe('edalab.redrive.system.dlq');
    expect(shownGroup(groups, 'nobody')).toBeUndefined();
  });
});

describe('memberRates', () => {
  const group = (done: number, member = 1) => ({ ...ledgerGroup(), members: [{ ...ledgerGroup().members[0], member, messages_done_total: done }] });
  const key = memberKey('ledger', 1);

  it('is the change of messages done over the time between answers', () => {
    const first = memberRates(new Map(), {}, [group(100)], 1000);
    expect(first.rates).toEqual({});
    const second = memberRates(first.samples, first.rates, [group(150)], 3000);
    expect(second.rates[key]).toBe(25);
  });

  it('keeps the previous sample for answers too close together, and drops a counter that went back', () => {
    const a = memberRates(new Map(), {}, [group(0)], 0);
    const b = memberRates(a.samples, a.rates, [group(10)], 1000);
    expect(b.rates[key]).toBe(10);
    const c = memberRates(b.samples, b.rates, [group(12)], 1100);
    expect(c.rates[key]).toBe(10);
    expect(c.samples.get(key)).toEqual({ at: 1000, count: 10 });
    const d = memberRates(c.samples, c.rates, [group(3)], 2000);
    expect(d.rates).toEqual({});
  });
});

describe('errorText', () => {
  it('adds the details the message does not say', () => {
    expect(errorText(new ApiError(400, 'invalid `members`: must be 1..16', 'validation_failed', [{ field: 'members', message: 'must be 1..16' }]))).toBe(
      'invalid `members`: must be 1..16',
    );
    expect(errorText(new ApiError(400, 'bad', 'validation_failed', [{ field: 'members', message: 'too big' }]))).toBe('bad (members: too big)');
    expect(errorText(new Error('offline'))).toBe('offline');
  });
});
