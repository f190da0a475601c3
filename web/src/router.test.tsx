import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { act, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { PageView } from './App';
import { NavBar } from './components/Header';
import { hrefs, navigate, parseHash, useRoute } from './router';
import { renderWithQuery } from './test/render';
import { mockReactFlowDom } from './test/reactflow';

let restore: () => void;
beforeAll(() => {
  restore = mockReactFlowDom();
});
afterAll(() => restore());

function Routed() {
  const route = useRoute();
  return (
    <>
      <NavBar />
      <main data-page={route.page}><PageView route={route} /></main>
    </>
  );
}
const page = () => document.querySelector('main')?.getAttribute('data-page');
const go = (hash: string) => act(() => navigate(hash));

describe('parseHash', () => {
  it('names a page for each hash; anything else is the Overview', () => {
    const r = (h: string) => {
      const { query, ...rest } = parseHash(h);
      return { ...rest, query: query.toString() };
    };
    expect(r('')).toEqual({ page: 'overview', query: '' });
    expect(r('#/')).toEqual({ page: 'overview', query: '' });
    expect(r('#/?system=saga')).toEqual({ page: 'overview', query: 'system=saga' });
    expect(r('#/topics')).toEqual({ page: 'topics', topic: undefined, query: '' });
    expect(r('#/topics/bancaire.compte.ouvert')).toEqual({ page: 'topics', topic: 'bancaire.compte.ouvert', query: '' });
    expect(r('#/topics/a%2Fb')).toEqual({ page: 'topics', topic: 'a/b', query: '' });
    expect(r('#/consumers')).toEqual({ page: 'consumers', group: undefined, query: '' });
    expect(r('#/consumers/edalab.redrive.system.dlq')).toEqual({ page: 'consumers', group: 'edalab.redrive.system.dlq', query: '' });
    expect(r('#/lab')).toEqual({ page: 'lab', query: '' });
    for (const unknown of ['#/nope', '#/lab/x', '#/topics/a/b', '#nothing', '#/%E0%A4%A']) expect(r(unknown).page).toBe('overview');
  });

  it('builds the hashes it reads', () => {
    expect(parseHash(hrefs.topic('tp-orders-dlq')).topic).toBe('tp-orders-dlq');
    expect(parseHash(hrefs.group('a b')).group).toBe('a b');
    expect(hrefs.topic(null)).toBe('#/topics');
    expect(hrefs.overview('banking')).toBe('#/?system=banking');
  });
});

describe('pages', () => {
  it('shows the page the hash names, and the nav marks it', async () => {
    renderWithQuery(<Routed />);
    expect(page()).toBe('overview');
    expect(screen.getByTestId('flow-graph')).toBeInTheDocument();
    expect(screen.getByTestId('card-messages')).toBeInTheDocument();
    expect(screen.getByRole('link', { name: 'Overview' })).toHaveAttribute('aria-current', 'page');

    go('#/topics');
    await waitFor(() => expect(page()).toBe('topics'));
    expect(screen.getByTestId('topics-panel')).toBeInTheDocument();
    expect(screen.queryByTestId('flow-graph')).not.toBeInTheDocument();
    expect(screen.getByRole('link', { name: 'Topics' })).toHaveAttribute('aria-current', 'page');
    expect(screen.getByRole('link', { name: 'Overview' })).not.toHaveAttribute('aria-current');

    go('#/consumers');
    expect(await screen.findByTestId('consumer-group-ledger')).toBeInTheDocument();
    expect(screen.getByRole('link', { name: 'Consumers' })).toHaveAttribute('aria-current', 'page');

    go('#/lab');
    expect(await screen.findByTestId('lab-panel')).toBeInTheDocument();
    expect(screen.getByRole('link', { name: 'Lab' })).toHaveAttribute('aria-current', 'page');

    go('#/what/is/this');
    await waitFor(() => expect(page()).toBe('overview'));
    expect(screen.getByRole('link', { name: 'Overview' })).toHaveAttribute('aria-current', 'page');
  });

  it('#/topics/<topic> opens that topic; choosing another or closing changes the hash', async () => {
    const user = userEvent.setup();
    go('#/topics/bancaire.compte.ouvert');
    renderWithQuery(<Routed />);
    const browser = await screen.findByTestId('message-browser');
    expect(within(browser).getByRole('heading', { name: 'Messages of bancaire.compte.ouvert' })).toBeInTheDocument();
    await user.click(await screen.findByRole('button', { name: 'system.dlq' }));
    await waitFor(() => expect(window.location.hash).toBe('#/topics/system.dlq'));
    expect(await screen.findByRole('heading', { name: 'Messages of system.dlq' })).toBeInTheDocument();
    await user.click(screen.getByRole('button', { name: 'Close message browser' }));
    await waitFor(() => expect(window.location.hash).toBe('#/topics'));
    expect(screen.queryByTestId('message-browser')).not.toBeInTheDocument();
  });

  it('#/consumers/<group> opens that group; an unknown one says so', async () => {
    go('#/consumers/ledger');
    renderWithQuery(<Routed />);
    expect(await screen.findByTestId('consumer-group-ledger')).toBeInTheDocument();
    expect(screen.getByRole('button', { name: /^ledger/ })).toHaveAttribute('aria-current', 'true');
    go('#/consumers/nobody');
    expect(await screen.findByTestId('group-missing')).toHaveTextContent('No consumer group “nobody” on the bus.');
  });
});
