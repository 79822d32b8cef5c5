import { describe, expect, it } from 'vitest';
import { newAccountId } from '../../shared/domain/ids';
import type { VelocityLimits } from '../../shared/domain/velocity';
import { toProblemError } from '../../shared/handlers/http';
import type { Logger } from '../../shared/ports/logger';
import { VelocityContentionError, VelocityExceededError } from '../../shared/ports/submission';
import type { VelocityState, VelocityStore, VelocityWrite } from '../../shared/ports/velocity';
import { admissionAttemptCountMax, VelocityService } from '../../shared/services/velocity';

const limits: VelocityLimits = { windowS: 60, transferCountMax: 3, amountMax: undefined };
const t0 = Date.parse('2026-01-31T12:00:00.000Z');

/** A logger that keeps its warnings, so a test can see the one it expects. */
function recordingLogger(): Logger & { readonly warnings: string[] } {
  const warnings: string[] = [];
  const ignore = (): void => undefined;
  return {
    warnings,
    info: ignore,
    error: ignore,
    warn: (message: string) => {
      warnings.push(message);
    },
  };
}

/**
 * A store whose every write fails its condition, answering each time a window that the next write
 * will again find changed: a closed window to a write into the window, an open one with room to a
 * write that opens one. No real store does this but under a pathological race.
 */
function everChangingStore(): VelocityStore & { readonly writes: VelocityWrite[] } {
  const writes: VelocityWrite[] = [];
  return {
    writes,
    count: async (_accountId, write) => {
      writes.push(write);
      const window =
        write.kind === 'count_in_window'
          ? { startMs: write.nowMs - 120_000, transferCount: 3, amountTotal: 3n }
          : { startMs: write.nowMs, transferCount: 1, amountTotal: 1n };
      const state: VelocityState = { limits: undefined, window };
      return { counted: false, state };
    },
    read: async () => ({ limits: undefined, window: undefined }),
    release: async () => undefined,
    putOverrides: async () => undefined,
  };
}

describe('velocity admission', () => {
  it('gives up after its attempt bound with a transient error (503) and a warning when every write meets a changed window', async () => {
    const store = everChangingStore();
    const logger = recordingLogger();
    const service = new VelocityService({ store, defaults: limits, logger, now: () => new Date(t0) });

    const failure = await service
      .admit({ debitAccountId: newAccountId(), amount: 1n })
      .catch((error) => error);

    expect(failure).toBeInstanceOf(VelocityContentionError);
    expect(store.writes.map((write) => write.kind)).toEqual([
      'open_window',
      'count_in_window',
      'open_window',
      'count_in_window',
    ]);
    expect(store.writes).toHaveLength(admissionAttemptCountMax);
    expect(logger.warnings).toEqual(['velocity admission gave up: the window changed under every attempt']);
    expect(toProblemError(failure).status).toBe(503);
  });

  it('refuses only from what a failed write answered, never from its cache alone', async () => {
    // The cache says the window is full; the store, which had a slot given back, has room.
    let stored: VelocityState = {
      limits: undefined,
      window: { startMs: t0, transferCount: 3, amountTotal: 3n },
    };
    const writes: VelocityWrite[] = [];
    const store: VelocityStore = {
      count: async (_accountId, write) => {
        writes.push(write);
        const window = stored.window;
        const fits = write.kind === 'count_in_window' && window !== undefined && window.transferCount < 3;
        if (!fits || window === undefined) return { counted: false, state: stored };
        stored = { ...stored, window: { ...window, transferCount: window.transferCount + 1 } };
        return { counted: true, state: stored };
      },
      read: async () => stored,
      release: async () => {
        const window = stored.window;
        if (window === undefined) return undefined;
        stored = { ...stored, window: { ...window, transferCount: window.transferCount - 1 } };
        return stored;
      },
      putOverrides: async () => undefined,
    };
    const service = new VelocityService({
      store,
      defaults: limits,
      logger: recordingLogger(),
      now: () => new Date(t0 + 1_000),
    });
    const debitAccountId = newAccountId();
    const first = await service.admit({ debitAccountId, amount: 1n }).catch((error) => error);
    // Another instance gives a slot back; this one's cache still says full.
    stored = { ...stored, window: { startMs: t0, transferCount: 2, amountTotal: 2n } };

    const second = await service.admit({ debitAccountId, amount: 1n });

    expect(first).toBeInstanceOf(VelocityExceededError);
    expect(second.windowStartMs).toBe(t0);
    expect(writes.map((write) => write.kind)).toEqual(['open_window', 'count_in_window']);
  });
});
