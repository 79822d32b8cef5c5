/**
 * Where the fraud checks keep their state (profiles, pattern windows, verdicts) and how verdicts
 * and flags are read back: the ports of the fraud services, with the values they exchange.
 */
import type {
  Assessment,
  FirstPaidAt,
  FraudProfile,
  FraudReason,
  FraudStatus,
  PatternFinding,
  ScoredTransfer,
  WindowTransfer,
} from '../domain/fraud';
import type { TransferId } from '../domain/ids';

/** What the scorer's `decide` answers for the locked profile. */
export type ScoringDecision = { readonly assessment: Assessment; readonly profile: FraudProfile };

/**
 * Where the scorer keeps profiles and verdicts.
 *
 * `scoreOnce` does all of it in one transaction: when `eventId` was processed before it answers
 * `duplicate` and changes nothing; otherwise it locks the debit account's profile (an empty one
 * for a new account), calls `decide` with it and the account's earlier transfers to the counterparty, stores the new
 * profile, the counterparty, the verdict (score, reasons, scored_at) and, when this flags a
 * transfer that was not flagged, one `transfer.flagged` outbox row, and records the event id.
 * Throws `TransientError` when nothing was stored and a retry may succeed, `PermanentError` when
 * it will not.
 */
export interface FraudScoreStore {
  scoreOnce(
    eventId: string,
    transfer: ScoredTransfer,
    decide: (profile: FraudProfile, counterpartyTransferCount: number) => ScoringDecision,
  ): Promise<'scored' | 'duplicate'>;
}

/**
 * Where the pattern listener keeps the transfers of its window and when each account first paid
 * each counterparty.
 *
 * `checkOnce`, in one transaction: `duplicate` (nothing changes) when `eventId` was processed;
 * otherwise it serialises with other checks of the same debit account, adds the transfer to the
 * account's window, moves the account's first payment to the credit account back to the
 * transfer's time if it is earlier (so the order events arrive in does not matter), calls
 * `detect` with the account's transfers posted within `windowS` before it (itself included) and
 * the first-payment time of at least each of their counterparties, adds each finding's reason to
 * the verdict of each transfer it names (a newly flagged transfer gets one `transfer.flagged`
 * outbox row), drops transfers older than the window, and records the event id. Throws as
 * `FraudScoreStore.scoreOnce` does.
 */
export interface FraudPatternStore {
  checkOnce(
    eventId: string,
    transfer: ScoredTransfer,
    windowS: number,
    detect: (recent: readonly WindowTransfer[], firstPaidAt: FirstPaidAt) => PatternFinding[],
  ): Promise<
    | { readonly kind: 'checked'; readonly findings: readonly PatternFinding[] }
    | { readonly kind: 'duplicate' }
  >;
}

/** A transfer's fraud verdict as the API shows it. */
export interface FraudVerdict {
  readonly status: FraudStatus;
  /** The scorer's score, 0 to 1; null until the scorer has run. */
  readonly score: number | null;
  readonly reasons: readonly FraudReason[];
  /** When the scorer stored its verdict; null until then. */
  readonly scoredAt: string | null;
}

/** A flagged transfer, as the flags list shows it. */
export interface FraudFlag {
  readonly flagId: bigint;
  readonly transferId: TransferId;
  readonly debitAccountId: string;
  readonly creditAccountId: string;
  readonly amount: bigint;
  readonly currency: string;
  readonly score: number | null;
  readonly reasons: readonly FraudReason[];
  readonly flaggedAt: string;
}

/**
 * The verdicts. `findVerdict` answers undefined when the transfer has none yet (pending);
 * `listFlags` answers up to `limit` flags older than `beforeFlagId` (all when undefined), newest
 * first, and whether more remain. Both throw `TransientError` when the database is unavailable.
 */
export interface FraudVerdictReader {
  findVerdict(id: TransferId): Promise<FraudVerdict | undefined>;
  listFlags(page: {
    readonly limit: number;
    readonly beforeFlagId: bigint | undefined;
  }): Promise<{ readonly flags: readonly FraudFlag[]; readonly hasMore: boolean }>;
}
