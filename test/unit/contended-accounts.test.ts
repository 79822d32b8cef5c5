import { describe, expect, it } from 'vitest';
import { ContendedAccounts, lockStripes } from '../../shared/adapters/postgres/ledger-store';
import { newAccountId } from '../../shared/domain/ids';
import { transferFactory } from '../support/factories';

function clock(): { nowMs: () => number; advance: (ms: number) => void } {
  let now = 0;
  return { nowMs: () => now, advance: (ms) => (now += ms) };
}

describe('which accounts a batch takes lock stripes for', () => {
  it('takes none for a batch whose accounts are each touched once and never contended', () => {
    const contended = new ContendedAccounts({ rememberMs: 1000, accountCountMax: 10 }, clock().nowMs);

    expect(contended.filter([transferFactory(), transferFactory(), transferFactory()])).toEqual([]);
  });

  it('takes the stripe of an account the batch touches more than once, once', () => {
    const hot = newAccountId();
    const contended = new ContendedAccounts({ rememberMs: 1000, accountCountMax: 10 }, clock().nowMs);
    const batch = [
      transferFactory({ creditAccountId: hot }),
      transferFactory({ creditAccountId: hot }),
      transferFactory({ debitAccountId: hot }),
    ];

    expect(contended.filter(batch)).toEqual([hot]);
    expect(lockStripes(contended.filter(batch))).toEqual([`ledger_lock.stripe_${hot.slice(-3)}`]);
  });

  it('remembers the accounts of a failed batch for rememberMs, then forgets them', () => {
    const time = clock();
    const contended = new ContendedAccounts({ rememberMs: 1000, accountCountMax: 10 }, time.nowMs);
    const failed = transferFactory();
    contended.remember([failed]);
    const later = transferFactory({ debitAccountId: failed.creditAccountId });

    time.advance(999);
    expect(contended.filter([later])).toEqual([failed.creditAccountId]);
    time.advance(1);
    expect(contended.filter([later])).toEqual([]);
  });

  it('keeps at most accountCountMax accounts, forgetting the oldest first', () => {
    const contended = new ContendedAccounts({ rememberMs: 1000, accountCountMax: 2 }, clock().nowMs);
    const [first, second] = [transferFactory(), transferFactory()];
    contended.remember([first]);
    contended.remember([second]);

    const remembered = contended.filter([first, second]);

    expect(remembered).toEqual([second.debitAccountId, second.creditAccountId]);
  });

  it('orders stripes and names each once, whatever the order of the accounts', () => {
    const a = newAccountId();
    const b = newAccountId();

    expect(lockStripes([b, a, b])).toEqual(lockStripes([a, b]));
    expect(lockStripes([b, a])).toEqual([...lockStripes([a, b])].sort());
  });
});
