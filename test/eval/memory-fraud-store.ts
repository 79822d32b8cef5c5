/**
 * The fraud stores in memory, for the evaluation (tens of thousands of transfers in seconds). It
 * keeps the same records as the Postgres adapter and applies the same rules (idempotency per
 * event id, reasons merged, one flag per transfer); `fraud-store.test.ts` checks the two agree.
 */
import {
  emptyProfile,
  type FirstPaidAt,
  type FraudProfile,
  type FraudReason,
  fraudReasons,
  type PatternFinding,
  type ScoredTransfer,
  type WindowTransfer,
} from '../../shared/domain/fraud';
import type { FraudPatternStore, FraudScoreStore, ScoringDecision } from '../../shared/ports/fraud';

export interface MemoryVerdict {
  score: number | null;
  reasons: Set<FraudReason>;
  scoredAt: string | null;
  flagged: boolean;
}

export class MemoryFraudStore implements FraudScoreStore, FraudPatternStore {
  public readonly profiles = new Map<string, FraudProfile>();
  public readonly verdicts = new Map<string, MemoryVerdict>();
  /** The `transfer.flagged` events the outbox would hold, in order. */
  public readonly flaggedEvents: string[] = [];
  private readonly counterparties = new Map<string, Map<string, number>>();
  private readonly windows = new Map<string, WindowTransfer[]>();
  /** Per debit account, when it first paid each counterparty (the listener's, like the window). */
  private readonly firstPaid = new Map<string, Map<string, string>>();
  private readonly processed = new Set<string>();

  public async scoreOnce(
    eventId: string,
    transfer: ScoredTransfer,
    decide: (profile: FraudProfile, counterpartyTransferCount: number) => ScoringDecision,
  ): Promise<'scored' | 'duplicate'> {
    if (!this.firstTime(`scorer/${eventId}`)) return 'duplicate';
    const known = this.counterparties.get(transfer.debitAccountId) ?? new Map<string, number>();
    const earlier = known.get(transfer.creditAccountId) ?? 0;
    const decision = decide(this.profiles.get(transfer.debitAccountId) ?? emptyProfile, earlier);
    this.profiles.set(transfer.debitAccountId, decision.profile);
    known.set(transfer.creditAccountId, earlier + 1);
    this.counterparties.set(transfer.debitAccountId, known);
    const verdict = this.verdict(transfer.transferId);
    verdict.score = decision.assessment.score;
    verdict.scoredAt = transfer.postedAt;
    for (const reason of decision.assessment.reasons) verdict.reasons.add(reason);
    if (decision.assessment.flagged) this.flag(transfer.transferId, verdict);
    return 'scored';
  }

  public async checkOnce(
    eventId: string,
    transfer: ScoredTransfer,
    windowS: number,
    detect: (recent: readonly WindowTransfer[], firstPaidAt: FirstPaidAt) => PatternFinding[],
  ): Promise<
    | { readonly kind: 'checked'; readonly findings: readonly PatternFinding[] }
    | { readonly kind: 'duplicate' }
  > {
    if (!this.firstTime(`patterns/${eventId}`)) return { kind: 'duplicate' };
    const at = Date.parse(transfer.postedAt);
    const window = (this.windows.get(transfer.debitAccountId) ?? []).filter(
      (kept) => Date.parse(kept.postedAt) > at - 2 * windowS * 1000,
    );
    window.push({
      transferId: transfer.transferId,
      creditAccountId: transfer.creditAccountId,
      amount: transfer.amount,
      postedAt: transfer.postedAt,
    });
    this.windows.set(transfer.debitAccountId, window);
    const firstPaid = this.firstPaid.get(transfer.debitAccountId) ?? new Map<string, string>();
    const known = firstPaid.get(transfer.creditAccountId);
    if (known === undefined || Date.parse(transfer.postedAt) < Date.parse(known)) {
      firstPaid.set(transfer.creditAccountId, transfer.postedAt);
    }
    this.firstPaid.set(transfer.debitAccountId, firstPaid);
    const recent = window.filter((kept) => {
      const posted = Date.parse(kept.postedAt);
      return posted <= at && posted > at - windowS * 1000;
    });
    const findings = detect(recent, firstPaid);
    for (const finding of findings) {
      for (const transferId of finding.transferIds) {
        const verdict = this.verdict(transferId);
        verdict.reasons.add(finding.reason);
        this.flag(transferId, verdict);
      }
    }
    return { kind: 'checked', findings };
  }

  /** The reasons of a verdict in the model's order, as Postgres stores them. */
  public reasonsOf(transferId: string): FraudReason[] {
    const reasons = this.verdicts.get(transferId)?.reasons ?? new Set<FraudReason>();
    return fraudReasons.filter((reason) => reasons.has(reason));
  }

  private firstTime(key: string): boolean {
    if (this.processed.has(key)) return false;
    this.processed.add(key);
    return true;
  }

  private verdict(transferId: string): MemoryVerdict {
    let verdict = this.verdicts.get(transferId);
    if (verdict === undefined) {
      verdict = { score: null, reasons: new Set(), scoredAt: null, flagged: false };
      this.verdicts.set(transferId, verdict);
    }
    return verdict;
  }

  private flag(transferId: string, verdict: MemoryVerdict): void {
    if (verdict.flagged) return;
    verdict.flagged = true;
    this.flaggedEvents.push(transferId);
  }
}
