import { describe, expect, it } from 'vitest';
import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { http, HttpResponse } from 'msw';
import { LabPanel, Markdown, parseMarkdown } from './LabPanel';
import { renderWithQuery } from '../test/render';
import { server } from '../test/server';

describe('LabPanel', () => {
  it('lists the guides and opens one', async () => {
    const user = userEvent.setup();
    renderWithQuery(<LabPanel />);
    const list = await screen.findByTestId('lab-guide-list');
    await within(list).findByText('01 — Pub/Sub : un fait, plusieurs lecteurs');
    expect(within(list).getAllByRole('button')).toHaveLength(2);
    expect(within(list).getByText('Le journal fait foi ; l’état est une projection.')).toBeInTheDocument();
    expect(screen.queryByTestId('lab-guide')).not.toBeInTheDocument();

    await user.click(within(list).getByRole('button', { name: /01 — Pub\/Sub/ }));
    const guide = await screen.findByRole('article', { name: '01 — Pub/Sub : un fait, plusieurs lecteurs' });
    expect(await within(guide).findByRole('heading', { name: '01 — Pub/Sub : un fait, plusieurs lecteurs' })).toBeInTheDocument();
    expect(within(guide).getByRole('heading', { name: 'Le problème' })).toBeInTheDocument();
    expect(within(guide).getByText('producteur').tagName).toBe('STRONG');
    expect(within(guide).getAllByRole('listitem')).toHaveLength(2);
    expect(within(guide).getByText('ledger').tagName).toBe('CODE');
    expect(guide.querySelector('pre')).toHaveTextContent('edalab up');
    expect(within(list).getByRole('button', { name: /01 — Pub\/Sub/ })).toHaveAttribute('aria-current', 'true');

    await user.click(within(list).getByRole('button', { name: /02 — Event sourcing/ }));
    expect(await screen.findByRole('article', { name: '02 — Event sourcing et rejeu' })).toBeInTheDocument();
    await user.click(screen.getByRole('button', { name: 'Close guide' }));
    expect(screen.queryByTestId('lab-guide')).not.toBeInTheDocument();
  });

  it('says when the guide cannot be read', async () => {
    server.use(http.get('*/api/v1/lab/guides/:id', () => HttpResponse.json({ error: 'no guide `x`', code: 'not_found', details: [] }, { status: 404 })));
    const user = userEvent.setup();
    renderWithQuery(<LabPanel />);
    await user.click(await screen.findByRole('button', { name: /02 — Event sourcing/ }));
    expect(await screen.findByRole('alert')).toHaveTextContent('Could not load the guide: no guide `x`');
  });

  it('says when the back end does not offer it', async () => {
    server.use(http.get('*/api/v1/lab/guides', () => HttpResponse.json({ error: 'no route', code: 'route_not_found', details: [] }, { status: 404 })));
    renderWithQuery(<LabPanel />);
    expect(await screen.findByText(/Not available: no route/)).toBeInTheDocument();
  });
});

describe('markdown reader', () => {
  it('reads headings, paragraphs, fences, lists, quotes, tables and rules', () => {
    const md = [
      '# Titre',
      '',
      'Une ligne',
      'qui continue.',
      '',
      '```mermaid',
      'flowchart LR',
      '    a --> b',
      '```',
      '',
      '1. **Premier.** Texte',
      '   sur deux lignes.',
      '2. Second',
      '   - imbriqué',
      '',
      '> Citation',
      '',
      '| Col | `a|b` |',
      '|-----|:----:|',
      '| x \\| y | 2 |',
      '',
      '---',
    ].join('\n');
    expect(parseMarkdown(md)).toEqual([
      { kind: 'heading', level: 1, text: 'Titre' },
      { kind: 'paragraph', text: 'Une ligne qui continue.' },
      { kind: 'code', lang: 'mermaid', text: 'flowchart LR\n    a --> b' },
      {
        kind: 'list',
        ordered: true,
        start: 1,
        items: [
          [{ kind: 'paragraph', text: '**Premier.** Texte sur deux lignes.' }],
          [
            { kind: 'paragraph', text: 'Second' },
            { kind: 'list', ordered: false, start: 1, items: [[{ kind: 'paragraph', text: 'imbriqué' }]] },
          ],
        ],
      },
      { kind: 'quote', blocks: [{ kind: 'paragraph', text: 'Citation' }] },
      { kind: 'table', head: ['Col', '`a|b`'], rows: [['x | y', '2']] },
      { kind: 'rule' },
    ]);
  });

  it('keeps a loose list together across blank lines', () => {
    const blocks = parseMarkdown('- un\n\n- deux\n\n  suite\n\nAprès.');
    expect(blocks).toHaveLength(2);
    expect(blocks[0]).toMatchObject({ kind: 'list', items: [[{ text: 'un' }], [{ text: 'deux' }, { text: 'suite' }]] });
    expect(blocks[1]).toEqual({ kind: 'paragraph', text: 'Après.' });
  });

  it('renders inline code, emphasis and links without interpreting HTML', () => {
    render(<Markdown text={'Voir [ADR 020](../adr/020.md), [site](https://example.org), *ceci*, snake_case_name et <b>brut</b>.'} />);
    const md = screen.getByTestId('markdown');
    expect(within(md).getByText('ADR 020')).toHaveAttribute('title', '../adr/020.md');
    expect(within(md).getByRole('link', { name: 'site' })).toHaveAttribute('href', 'https://example.org');
    expect(within(md).getByText('ceci').tagName).toBe('EM');
    expect(md).toHaveTextContent('snake_case_name et <b>brut</b>.');
    expect(md.querySelector('b')).toBeNull();
  });
});
