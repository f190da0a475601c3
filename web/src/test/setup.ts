import '@testing-library/jest-dom/vitest';
import { cleanup } from '@testing-library/react';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { useLive } from '../store';
import { fake, server } from './server';

beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterEach(() => {
  cleanup();
  server.resetHandlers();
  fake.reset();
  useLive.getState().reset();
  // Every test starts on the Overview (the pages live in the hash).
  window.history.replaceState(null, '', '/');
});
afterAll(() => server.close());
