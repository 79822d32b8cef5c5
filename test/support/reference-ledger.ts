import type { AccountId, TransferId } from '../../shared/domain/ids';
import { amountMax, type CurrencyCode } from '../../shared/domain/money';
import {
  isRecorded,
  type RejectionReason,
  rejectionReasons,
  type TransferResult,
} from '../../shared/domain/results';
import { type AccountState, decideTransfer } from '../../shared/domain/rules';
import type { TransferCommand } from '../../shared/domain/transfer';

/** What an account is opened with; totals start at zero, pending totals may be set. */
export interface ReferenceAccountOpening {
  readonly id: AccountId;
  readonly currency: CurrencyCode;
  readonly debitsMustNotExceedCredits?: boolean;
  readonly creditsMustNotExceedDebits?: boolean;
  readonly debitsPending?: bigint;
  readonly creditsPending?: bigint;
}

/** A transfer the model recorded under its id: the command as first seen, and its outcome. */
export interface ReferenceTransfer {
  readonly transfer: TransferCommand;
  readonly status: 'posted' | 'rejected';
  readonly reason: RejectionReason | null;
}

/** An account's posted totals, as `ledger.accounts` holds them. */
export interface ReferenceBalance {
  readonly debitsPosted: bigint;
  readonly creditsPosted: bigint;
}

/**
 * An in-memory ledger that decides every transfer with `decideTransfer`, the executable
 * specification, so a property test can hold the SQL engine to it (TigerBeetle's auditor). It
 * keeps only what the rules read: accounts with their totals, and the transfers recorded by id.
 * It asserts its own invariants after every posting, so a rule that lets a limit be breached
 * fails here even when the engine agrees with it.
 */
export class ReferenceLedger {
  private readonly accounts = new Map<AccountId, AccountState>();
  private readonly transfers = new Map<TransferId, ReferenceTransfer>();

  /** Opens an account with zero posted totals; opening one id twice is a bug in the test. */
  public openAccount(opening: ReferenceAccountOpening): void {
    assert(!this.accounts.has(opening.id), `account ${opening.id} is opened once`);
    const account: AccountState = {
      id: opening.id,
      currency: opening.currency,
      debitsMustNotExceedCredits: opening.debitsMustNotExceedCredits ?? false,
      creditsMustNotExceedDebits: opening.creditsMustNotExceedDebits ?? false,
      debitsPosted: 0n,
      creditsPosted: 0n,
      debitsPending: opening.debitsPending ?? 0n,
      creditsPending: opening.creditsPending ?? 0n,
    };
    assert(
      !(account.debitsMustNotExceedCredits && account.creditsMustNotExceedDebits),
      `account ${account.id} has at most one balance flag`,
    );
    assertWithinLimits(account);
    this.accounts.set(account.id, account);
  }

  /**
   * Decides the transfers in order, each against the state the earlier ones left: a posted
   * transfer moves the totals, and every transfer whose id was free is recorded (posted or
   * rejected), so a later transfer with that id, in this batch or another, finds it.
   */
  public postBatch(transfers: readonly TransferCommand[]): TransferResult[] {
    return transfers.map((transfer) => this.post(transfer));
  }

  /**
   * Sets an account's pending totals, as holds placed outside posting would; the rules count them
   * against a flagged account's limit. Pending totals that would breach the limit are a test bug.
   */
  public setPending(id: AccountId, pending: { debitsPending: bigint; creditsPending: bigint }): void {
    const account = this.accounts.get(id);
    assert(account !== undefined, `account ${id} is open`);
    const updated = { ...account, ...pending };
    assertWithinLimits(updated);
    this.accounts.set(id, updated);
  }

  /** The posted totals of every account, by id. */
  public balances(): Map<AccountId, ReferenceBalance> {
    return new Map(
      [...this.accounts.values()].map((account) => [
        account.id,
        { debitsPosted: account.debitsPosted, creditsPosted: account.creditsPosted },
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

  private post(transfer: TransferCommand): TransferResult {
    const recorded = this.transfers.get(transfer.id)?.transfer;
    const debit = this.accounts.get(transfer.debitAccountId);
    const credit = this.accounts.get(transfer.creditAccountId);
    const result = decideTransfer(transfer, recorded, debit, credit);
    if (!isRecorded(result)) {
      assert(recorded !== undefined, `${result} answers only a transfer whose id was taken`);
      return result;
    }
    assert(recorded === undefined, `a taken id ${transfer.id} is never recorded again`);
    if (result !== 'posted') {
      this.transfers.set(transfer.id, { transfer, status: 'rejected', reason: asRejectionReason(result) });
      return result;
    }
    assert(debit !== undefined && credit !== undefined, 'a posted transfer has both accounts');
    assert(debit.id !== credit.id, 'a posted transfer moves money between two accounts');
    assert(
      debit.currency === transfer.currency && credit.currency === transfer.currency,
      'a posted transfer is in its accounts currency',
    );
    const debitAfter = { ...debit, debitsPosted: debit.debitsPosted + transfer.amount };
    const creditAfter = { ...credit, creditsPosted: credit.creditsPosted + transfer.amount };
    assertWithinLimits(debitAfter);
    assertWithinLimits(creditAfter);
    this.accounts.set(debitAfter.id, debitAfter);
    this.accounts.set(creditAfter.id, creditAfter);
    this.transfers.set(transfer.id, { transfer, status: 'posted', reason: null });
    return result;
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
}

function asRejectionReason(result: TransferResult): RejectionReason {
  const reason = rejectionReasons.find((candidate) => candidate === result);
  assert(reason !== undefined, `${result} is a rejection reason`);
  return reason;
}

function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`reference ledger assertion failed: ${message}`);
}
