import { describe, expect, it } from 'vitest';
import { act, screen } from '@testing-library/react';
import { DlqPanel } from './DlqPanel';
import { renderWithQuery } from '../test/render';
import { fake } from '../test/server';
import { useLive } from '../store';

describe('DLQ panel', () => {
  it('shows a log dead letter by partition and offset', async () => {
    fake.dlq = [{ partition: 1, offset: 7, key: 'k', error: 'bureau down', attempts: 5, origin_topic: 'payments',
      origin_partition: 0, origin_offset: 3, group: 'payment-service', first_failure_ms: 1, last_failure_ms: 2, value: {} }];
    act(() => useLive.getState().selectDlq('payments.dlq'));
    renderWithQuery(<DlqPanel />);
    expect(await screen.findByText('bureau down')).toBeInTheDocument();
    expect(screen.getByText(/p1 @7/)).toBeInTheDocument();
    expect(screen.getByText(/from payments\/0@3/)).toBeInTheDocument();
  });

  it('shows an SQS dead letter by its MessageId, with the recorded reason', async () => {
    fake.dlq = [{ message_id: '0f3c9a12-77aa-4c4e-9d7e-1a2b3c4d5e6f', key: null, error: 'DIVISION_BY_ZERO: division by zero',
      attempts: 3, origin_topic: 'calculatrice-input-queue', group: 'calculatrice-input-queue',
      first_failure_ms: 1, last_failure_ms: 2, value: { operation: 'divide' } }];
    act(() => useLive.getState().selectDlq('calculatrice-input-queue-dlq'));
    renderWithQuery(<DlqPanel />);
    expect(await screen.findByText('DIVISION_BY_ZERO: division by zero')).toBeInTheDocument();
    expect(screen.getByText(/SQS 0f3c9a12/)).toBeInTheDocument();
    expect(screen.queryByText(/p undefined|@undefined/)).not.toBeInTheDocument();
    expect(screen.getByText(/from calculatrice-input-queue ·/)).toBeInTheDocument();
  });
});
