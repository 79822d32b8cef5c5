import {
  type AccountAction,
  type AccountActionOutcome,
  type AccountStatus,
  decideAccountAction,
} from '../../shared/domain/accounts';
import type { AccountId, TransferId } from '../../shared/domain/ids';
import { amountMax, type CurrencyCode } from '../../shared/domain/money';
import {
  isAccepted,
  isRecorded,
  type RejectionReason,
  rejectionReasons,
  type TransferResult,
} from '../../shared/domain/results';
import {
  type AccountState,
  decideCommand,
  type PendingTarget,
  type PendingTransferState,
  type RecordedStatus,
  type RecordedTransfer,
  type ReversalTarget,
} from '../../shared/domain/rules';
import {
  commandKind,
  isReferring,
  type LedgerCommand,
  type ReferringCommand,
  transferFieldsOf,
} from '../../shared/domain/transfer';

/** What an account is opened with; totals start at zero. */
export interface ReferenceAccountOpening {
  readonly id: AccountId;
  readonly currency: CurrencyCode;
  readonly debitsMustNotExceedCredits?: boolean;
  readonly creditsMustNotExceedDebits?: boolean;
}

/** A transfer the model recorded under its id: what `exists` compares, and its outcome. */
export interface ReferenceTransfer extends RecordedTransfer {
  readonly status: RecordedStatus;
  readonly reason: RejectionReason | null;
}

/** A hold, with what became of it. */
export interface ReferenceHold extends PendingTransferState {
  readonly postedAmount: bigint | null;
  readonly resolvedBy: TransferId | null;
}

/** An account's totals and state, as `ledger.accounts` holds them. */
export interface ReferenceBalance {
  readonly debitsPosted: bigint;
  readonly creditsPosted: bigint;
  readonly debitsPending: bigint;
  readonly creditsPending: bigint;
  readonly status: AccountStatus;
}

/**
 * An in-memory ledger that decides every command with `decideCommand`, the executable
 * specification, and every account action with `decideAccountAction`, so a property test can hold
 * the SQL engine to it (TigerBeetle's auditor). It keeps only what the rules read: accounts with
 * their states and totals, the transfers recorded by id, the holds, and what was reversed of each
 * transfer. It asserts its own invariants after every change, so a rule that lets a limit be
 * breached fails here even when the engine agrees with it.
 */
export class ReferenceLedger {
  private readonly accounts = new Map<AccountId, AccountState>();
  private readonly transfers = new Map<TransferId, ReferenceTransfer>();
  private readonly holds = new Map<TransferId, ReferenceHold>();
  private readonly reversed = new Map<TransferId, bigint>();

  /** Opens an account with zero totals; opening one id twice is a bug in the test. */
  public openAccount(opening: ReferenceAccountOpening): void {
    assert(!this.accounts.has(opening.id), `account ${opening.id} is opened once`);
    const account: AccountState = {
      id: opening.id,
      currency: opening.currency,
      debitsMustNotExceedCredits: opening.debitsMustNotExceedCredits ?? false,
      creditsMustNotExceedDebits: opening.creditsMustNotExceedDebits ?? false,
      status: 'open',
      debitsPosted: 0n,
      creditsPosted: 0n,
      debitsPending: 0n,
      creditsPending: 0n,
    };
    assert(
      !(account.debitsMustNotExceedCredits && account.creditsMustNotExceedDebits),
      `account ${account.id} has at most one balance flag`,
    );
    this.accounts.set(account.id, account);
  }

  /**
   * Decides the commands in order at the batch's clock, each against the state the earlier ones
   * left, and records every one whose id was free, so a later command with that id, in this
   * batch or another, finds it.
   */
  public postBatch(commands: readonly LedgerCommand[], nowMs: number = Date.now()): TransferResult[] {
    return commands.map((command) => this.post(command, nowMs));
  }

  /** Expires every open hold whose expiry is at or before `nowMs`; returns their ids. */
  public expire(nowMs: number): TransferId[] {
    const expired: TransferId[] = [];
    for (const hold of this.holds.values()) {
      if (hold.status !== 'pending' || hold.expiresAtMs > nowMs) continue;
      this.release(hold);
      this.holds.set(hold.id, { ...hold, status: 'expired' });
      expired.push(hold.id);
    }
    return expired;
  }

  /** Freezes, unfreezes or closes an account; undefined when it was never opened. */
  public changeStatus(id: AccountId, action: AccountAction): AccountActionOutcome | undefined {
    const account = this.accounts.get(id);
    if (account === undefined) return undefined;
    const outcome = decideAccountAction(action, account);
    if (outcome.kind === 'changed') this.update({ ...account, status: outcome.status });
    return outcome;
  }

  /** The totals and state of every account, by id. */
  public balances(): Map<AccountId, ReferenceBalance> {
    return new Map(
      [...this.accounts.values()].map((account) => [
        account.id,
        {
          debitsPosted: account.debitsPosted,
          creditsPosted: account.creditsPosted,
          debitsPending: account.debitsPending,
          creditsPending: account.creditsPending,
          status: account.status,
        },
      ]),
    );
  }

  /** The account as the rules see it now, or undefined when no such account was opened. */
  public account(id: AccountId): AccountState | undefined {
    return this.accounts.get(id);
  }

  /** The transfer recorded under an id, or undefined when the id is still free. */
  public transfer(id: TransferId): ReferenceTransfer | undefined {
    return this.transfers.get(id);
  }

  /** Every recorded transfer, by id, in the order they were recorded. */
  public recordedTransfers(): ReadonlyMap<TransferId, ReferenceTransfer> {
    return this.transfers;
  }

  /** Every hold, by its pending transfer's id. */
  public recordedHolds(): ReadonlyMap<TransferId, ReferenceHold> {
    return this.holds;
  }

  private post(command: LedgerCommand, nowMs: number): TransferResult {
    const recorded = this.transfers.get(command.id);
    if (recorded !== undefined) {
      const result = decideCommand(command, { recorded, debit: undefined, credit: undefined, nowMs });
      assert(!isRecorded(result), `${result} is an exists result for a taken id`);
      return result;
    }
    if (!isReferring(command)) {
      const debit = this.accounts.get(command.debitAccountId);
      const credit = this.accounts.get(command.creditAccountId);
      const result = decideCommand(command, { recorded, debit, credit, nowMs });
      this.record(command, result, transferFieldsOf(command));
      if (result === 'posted') this.move(command.debitAccountId, command.creditAccountId, command.amount);
      if (result === 'pending') {
        assert(command.pending !== undefined, 'only a pending transfer is recorded pending');
        this.hold(command.debitAccountId, command.creditAccountId, command.amount, 'add');
        this.holds.set(command.id, {
          id: command.id,
          debitAccountId: command.debitAccountId,
          creditAccountId: command.creditAccountId,
          amount: command.amount,
          currency: command.currency,
          status: 'pending',
          expiresAtMs: nowMs + command.pending.timeoutS * 1000,
          postedAmount: null,
          resolvedBy: null,
        });
      }
      return result;
    }
    return command.kind === 'reversal' ? this.reverse(command, nowMs) : this.resolve(command, nowMs);
  }

  private resolve(command: ReferringCommand, nowMs: number): TransferResult {
    const hold = this.holds.get(command.referenceId);
    const named = this.transfers.get(command.referenceId);
    const target: PendingTarget =
      hold !== undefined
        ? { kind: 'pending', state: hold }
        : named !== undefined && named.kind !== 'pending'
          ? { kind: 'not_pending' }
          : { kind: 'not_found' };
    const debit = hold === undefined ? undefined : this.accounts.get(hold.debitAccountId);
    const credit = hold === undefined ? undefined : this.accounts.get(hold.creditAccountId);
    const result = decideCommand(command, { recorded: undefined, debit, credit, pending: target, nowMs });
    const amount =
      hold === undefined
        ? (command.amount ?? null)
        : command.kind === 'void_pending'
          ? hold.amount
          : (command.amount ?? hold.amount);
    this.record(command, result, {
      debitAccountId: hold?.debitAccountId ?? null,
      creditAccountId: hold?.creditAccountId ?? null,
      amount,
      currency: hold?.currency ?? null,
    });
    if (hold !== undefined && (result === 'posted' || result === 'voided')) {
      assert(amount !== null, 'a resolved hold has an amount');
      this.release(hold);
      if (result === 'posted') this.move(hold.debitAccountId, hold.creditAccountId, amount);
      this.holds.set(hold.id, {
        ...hold,
        status: result,
        postedAmount: result === 'posted' ? amount : null,
        resolvedBy: command.id,
      });
    }
    return result;
  }

  private reverse(command: ReferringCommand, nowMs: number): TransferResult {
    const named = this.transfers.get(command.referenceId);
    const original: ReversalTarget | undefined =
      named === undefined
        ? undefined
        : { ...named, reversedAmount: this.reversed.get(command.referenceId) ?? 0n };
    const debit = named?.creditAccountId == null ? undefined : this.accounts.get(named.creditAccountId);
    const credit = named?.debitAccountId == null ? undefined : this.accounts.get(named.debitAccountId);
    const result = decideCommand(command, { recorded: undefined, debit, credit, original, nowMs });
    const amount = command.amount ?? named?.amount ?? null;
    this.record(command, result, {
      debitAccountId: named?.creditAccountId ?? null,
      creditAccountId: named?.debitAccountId ?? null,
      amount,
      currency: named?.currency ?? null,
    });
    if (result === 'posted') {
      assert(named !== undefined && amount !== null, 'a posted reversal has its original and an amount');
      assert(
        named.debitAccountId !== null && named.creditAccountId !== null,
        'a reversed transfer has accounts',
      );
      this.move(named.creditAccountId, named.debitAccountId, amount);
      const reversedAmount = (this.reversed.get(command.referenceId) ?? 0n) + amount;
      assert(named.amount !== null && reversedAmount <= named.amount, 'reversals stay within their original');
      this.reversed.set(command.referenceId, reversedAmount);
    }
    return result;
  }

  /** Records a command whose id was free, with the accounts, amount and currency it shows. */
  private record(
    command: LedgerCommand,
    result: TransferResult,
    shown: Pick<RecordedTransfer, 'debitAccountId' | 'creditAccountId' | 'amount' | 'currency'>,
  ): void {
    assert(isRecorded(result), `${result} records the command`);
    const fields = transferFieldsOf(command);
    this.transfers.set(command.id, {
      kind: commandKind(command),
      ...shown,
      metadata: command.metadata,
      timeoutS: fields.timeoutS,
      referenceId: fields.pendingId ?? fields.reversesId,
      status: isAccepted(result) ? result : 'rejected',
      reason: isAccepted(result) ? null : asRejectionReason(result),
    });
  }

  /** Moves posted money between two accounts. */
  private move(debitId: AccountId, creditId: AccountId, amount: bigint): void {
    const debit = this.accounts.get(debitId);
    assert(debit !== undefined, 'money moves between open accounts');
    assert(debitId !== creditId, 'money moves between two accounts');
    this.update({ ...debit, debitsPosted: debit.debitsPosted + amount });
    const credit = this.accounts.get(creditId);
    assert(credit !== undefined, 'money moves between open accounts');
    this.update({ ...credit, creditsPosted: credit.creditsPosted + amount });
  }

  /** Adds a hold to, or releases one from, its accounts' pending totals. */
  private hold(debitId: AccountId, creditId: AccountId, amount: bigint, change: 'add' | 'release'): void {
    const delta = change === 'add' ? amount : -amount;
    const debit = this.accounts.get(debitId);
    assert(debit !== undefined, 'a hold is on open accounts');
    this.update({ ...debit, debitsPending: debit.debitsPending + delta });
    const credit = this.accounts.get(creditId);
    assert(credit !== undefined, 'a hold is on open accounts');
    this.update({ ...credit, creditsPending: credit.creditsPending + delta });
  }

  private release(hold: ReferenceHold): void {
    assert(hold.status === 'pending', `hold ${hold.id} is released once`);
    this.hold(hold.debitAccountId, hold.creditAccountId, hold.amount, 'release');
  }

  private update(account: AccountState): void {
    assertWithinLimits(account);
    this.accounts.set(account.id, account);
  }
}

/** The invariants `ledger.accounts` enforces with CHECK constraints, asserted on the model too. */
function assertWithinLimits(account: AccountState): void {
  for (const total of [
    account.debitsPosted,
    account.creditsPosted,
    account.debitsPending,
    account.creditsPending,
  ]) {
    assert(
      total >= 0n && total <= amountMax,
      `account ${account.id} total ${total} is within [0, amountMax]`,
    );
  }
  assert(
    !account.debitsMustNotExceedCredits ||
      account.debitsPosted + account.debitsPending <= account.creditsPosted,
    `account ${account.id} debits do not exceed its credits`,
  );
  assert(
    !account.creditsMustNotExceedDebits ||
      account.creditsPosted + account.creditsPending <= account.debitsPosted,
    `account ${account.id} credits do not exceed its debits`,
  );
  assert(
    account.status !== 'closed' ||
      (account.debitsPosted === account.creditsPosted &&
        account.debitsPending === 0n &&
        account.creditsPending === 0n),
    `closed account ${account.id} is empty`,
  );
}

function asRejectionReason(result: TransferResult): RejectionReason {
  const reason = rejectionReasons.find((candidate) => candidate === result);
  assert(reason !== undefined, `${result} is a rejection reason`);
  return reason;
}

function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`reference ledger assertion failed: ${message}`);
}
