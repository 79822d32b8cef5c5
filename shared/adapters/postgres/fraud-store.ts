import type pg from 'pg';
import {
  emptyProfile,
  type FirstPaidAt,
  type FraudProfile,
  type FraudReason,
  fraudReasons,
  type PatternFinding,
  parseFraudReason,
  type ScoredTransfer,
  type WindowTransfer,
} from '../../domain/fraud';
import type { TransferId } from '../../domain/ids';
import type {
  FraudFlag,
  FraudPatternStore,
  FraudScoreStore,
  FraudVerdict,
  FraudVerdictReader,
  ScoringDecision,
} from '../../ports/fraud';
import { transferId } from './accounts-store';
import { classifyDatabaseError } from './errors';
import { int8, timestamp, timestampOrNull } from './rows';
import { inTransaction } from './transaction';

/**
 * Profiles, verdicts, the pattern window and first payments in the `fraud` schema (migrations 0008
 * and 0009), each event in
 * one READ COMMITTED transaction. The profile row lock (scorer) and a per-account advisory lock
 * (pattern listener) serialise the work of one account; verdict rows are locked in transfer-id
 * order, so two transactions never wait on each other in a circle.
 */
export class PostgresFraudStore implements FraudScoreStore, FraudPatternStore, FraudVerdictReader {
  public constructor(private readonly pool: pg.Pool) {}

  public scoreOnce(
    eventId: string,
    transfer: ScoredTransfer,
    decide: (profile: FraudProfile, counterpartyTransferCount: number) => ScoringDecision,
  ): Promise<'scored' | 'duplicate'> {
    return this.inTransaction(
      'score transfer',
      { eventId, transferId: transfer.transferId },
      async (client) => {
        if (!(await firstTime(client, 'scorer', eventId, transfer.transferId))) return 'duplicate';
        await client.query(
          `insert into fraud.profiles (account_id, state) values ($1, $2::jsonb) on conflict (account_id) do nothing`,
          [transfer.debitAccountId, JSON.stringify(emptyProfile)],
        );
        const { rows: profiles } = await client.query<{ state: FraudProfile }>(
          'select state from fraud.profiles where account_id = $1 for update',
          [transfer.debitAccountId],
        );
        const { rows: counterparties } = await client.query<{ transfer_count: number }>(
          'select transfer_count from fraud.counterparties where account_id = $1 and counterparty_id = $2',
          [transfer.debitAccountId, transfer.creditAccountId],
        );
        const profile = profiles[0]?.state;
        if (profile === undefined) throw new Error('assertion failed: the profile row exists once inserted');
        const decision = decide(profile, counterparties[0]?.transfer_count ?? 0);
        if (decision.profile.observationCount !== profile.observationCount + 1) {
          throw new Error('assertion failed: a scored transfer adds exactly one observation');
        }
        await client.query(
          'update fraud.profiles set state = $2::jsonb, updated_at = now() where account_id = $1',
          [transfer.debitAccountId, JSON.stringify(decision.profile)],
        );
        await client.query(
          `insert into fraud.counterparties as c (account_id, counterparty_id, transfer_count)
         values ($1, $2, 1)
         on conflict (account_id, counterparty_id) do update set transfer_count = c.transfer_count + 1`,
          [transfer.debitAccountId, transfer.creditAccountId],
        );
        await lockVerdicts(client, [transfer.transferId], transfer.debitAccountId);
        await client.query(
          `update fraud.verdicts
            set score = $2, scored_at = now(),
                reasons = array(select r from unnest(reasons || $3::text[]) r group by r order by min(array_position($4::text[], r)))
          where transfer_id = $1`,
          [transfer.transferId, decision.assessment.score, decision.assessment.reasons, fraudReasons],
        );
        if (decision.assessment.flagged) await flag(client, [transfer.transferId]);
        return 'scored';
      },
    );
  }

  public checkOnce(
    eventId: string,
    transfer: ScoredTransfer,
    windowS: number,
    detect: (recent: readonly WindowTransfer[], firstPaidAt: FirstPaidAt) => PatternFinding[],
  ): Promise<
    | { readonly kind: 'checked'; readonly findings: readonly PatternFinding[] }
    | { readonly kind: 'duplicate' }
  > {
    return this.inTransaction(
      'check patterns',
      { eventId, transferId: transfer.transferId },
      async (client) => {
        if (!(await firstTime(client, 'patterns', eventId, transfer.transferId)))
          return { kind: 'duplicate' } as const;
        // One check per account at a time, so two transfers of a burst each see the other.
        await client.query("select pg_advisory_xact_lock(hashtextextended('fraud.patterns/' || $1, 0))", [
          transfer.debitAccountId,
        ]);
        await client.query(
          `insert into fraud.pattern_transfers (transfer_id, debit_account_id, credit_account_id, amount, posted_at)
         values ($1, $2, $3, $4, $5) on conflict (transfer_id) do nothing`,
          [
            transfer.transferId,
            transfer.debitAccountId,
            transfer.creditAccountId,
            transfer.amount.toString(),
            transfer.postedAt,
          ],
        );
        await client.query(
          `insert into fraud.pattern_counterparties as c (account_id, counterparty_id, first_posted_at)
           values ($1, $2, $3)
           on conflict (account_id, counterparty_id)
           do update set first_posted_at = excluded.first_posted_at
                   where excluded.first_posted_at < c.first_posted_at`,
          [transfer.debitAccountId, transfer.creditAccountId, transfer.postedAt],
        );
        const { rows } = await client.query<{
          transfer_id: string;
          credit_account_id: string;
          amount: string;
          posted_at: Date;
        }>(
          `select transfer_id, credit_account_id, amount, posted_at
           from fraud.pattern_transfers
          where debit_account_id = $1
            and posted_at <= $2::timestamptz
            and posted_at > $2::timestamptz - make_interval(secs => $3)
          order by posted_at, transfer_id`,
          [transfer.debitAccountId, transfer.postedAt, windowS],
        );
        const { rows: firstPayments } = await client.query<{
          counterparty_id: string;
          first_posted_at: Date;
        }>(
          `select counterparty_id, first_posted_at from fraud.pattern_counterparties
            where account_id = $1 and counterparty_id = any($2::uuid[])`,
          [transfer.debitAccountId, [...new Set(rows.map((row) => row.credit_account_id))]],
        );
        const findings = detect(
          rows.map((row) => ({
            transferId: row.transfer_id,
            creditAccountId: row.credit_account_id,
            amount: int8(row.amount, 'amount'),
            postedAt: timestamp(row.posted_at, 'posted_at'),
          })),
          new Map(
            firstPayments.map((row) => [
              row.counterparty_id,
              timestamp(row.first_posted_at, 'first_posted_at'),
            ]),
          ),
        );
        const byTransfer = new Map<string, Set<FraudReason>>();
        for (const finding of findings) {
          for (const id of finding.transferIds)
            byTransfer.set(id, (byTransfer.get(id) ?? new Set()).add(finding.reason));
        }
        const ids = [...byTransfer.keys()].sort();
        if (ids.length > 0) {
          await lockVerdicts(client, ids, transfer.debitAccountId);
          await client.query(
            `update fraud.verdicts v
              set reasons = array(select r from unnest(v.reasons || x.reasons) r group by r order by min(array_position($2::text[], r)))
             from jsonb_to_recordset($1::jsonb) as x(transfer_id uuid, reasons text[])
            where v.transfer_id = x.transfer_id`,
            [
              JSON.stringify(
                ids.map((id) => ({ transfer_id: id, reasons: [...(byTransfer.get(id) ?? [])] })),
              ),
              fraudReasons,
            ],
          );
          await flag(client, ids);
        }
        await client.query(
          `delete from fraud.pattern_transfers
          where debit_account_id = $1 and posted_at < $2::timestamptz - make_interval(secs => $3)`,
          [transfer.debitAccountId, transfer.postedAt, 2 * windowS],
        );
        return { kind: 'checked', findings } as const;
      },
    );
  }

  public async findVerdict(id: TransferId): Promise<FraudVerdict | undefined> {
    try {
      const { rows } = await this.pool.query<{
        status: string;
        score: number | null;
        reasons: string[];
        scored_at: Date | null;
      }>('select status, score, reasons, scored_at from fraud.verdicts where transfer_id = $1', [id]);
      const row = rows[0];
      if (row === undefined) return undefined;
      return {
        status: fraudStatus(row.status),
        score: row.score,
        reasons: row.reasons.map(reason),
        scoredAt: timestampOrNull(row.scored_at, 'scored_at'),
      };
    } catch (error) {
      throw classifyDatabaseError(error, { operation: 'findVerdict', transferId: id });
    }
  }

  public async listFlags(page: {
    readonly limit: number;
    readonly beforeFlagId: bigint | undefined;
  }): Promise<{ readonly flags: readonly FraudFlag[]; readonly hasMore: boolean }> {
    try {
      const { rows } = await this.pool.query<{
        flag_id: string;
        transfer_id: string;
        debit_account_id: string;
        credit_account_id: string;
        amount: string;
        currency: string;
        score: number | null;
        reasons: string[];
        flagged_at: Date;
      }>(
        `select v.flag_id, v.transfer_id, t.debit_account_id, t.credit_account_id, t.amount, t.currency,
                v.score, v.reasons, v.flagged_at
           from fraud.verdicts v
           join ledger.transfers t on t.id = v.transfer_id
          where v.flag_id is not null and ($1::bigint is null or v.flag_id < $1::bigint)
          order by v.flag_id desc
          limit $2`,
        [page.beforeFlagId?.toString() ?? null, page.limit + 1],
      );
      return {
        flags: rows.slice(0, page.limit).map((row) => ({
          flagId: int8(row.flag_id, 'flag_id'),
          transferId: transferId(row.transfer_id),
          debitAccountId: row.debit_account_id,
          creditAccountId: row.credit_account_id,
          amount: int8(row.amount, 'amount'),
          currency: row.currency,
          score: row.score,
          reasons: row.reasons.map(reason),
          flaggedAt: timestamp(row.flagged_at, 'flagged_at'),
        })),
        hasMore: rows.length > page.limit,
      };
    } catch (error) {
      throw classifyDatabaseError(error, { operation: 'listFlags' });
    }
  }

  /** Runs `work` in a transaction (see `inTransaction`). */
  private inTransaction<T>(
    operation: string,
    context: Record<string, unknown>,
    work: (client: pg.PoolClient) => Promise<T>,
  ): Promise<T> {
    return inTransaction(this.pool, { operation, ...context }, work);
  }
}

/** Records the event id for the listener; false when it was there already (nothing to do). */
async function firstTime(
  client: pg.PoolClient,
  listener: 'scorer' | 'patterns',
  eventId: string,
  id: string,
): Promise<boolean> {
  const { rowCount } = await client.query(
    `insert into fraud.processed_events (listener, event_id, transfer_id) values ($1, $2, $3)
     on conflict (listener, event_id) do nothing`,
    [listener, eventId, id],
  );
  return rowCount === 1;
}

/** Makes the verdict rows exist and locks them, in transfer-id order. */
async function lockVerdicts(
  client: pg.PoolClient,
  ids: readonly string[],
  debitAccountId: string,
): Promise<void> {
  await client.query(
    `insert into fraud.verdicts (transfer_id, debit_account_id)
     select id, $2 from unnest($1::uuid[]) as id order by id
     on conflict (transfer_id) do nothing`,
    [ids, debitAccountId],
  );
  await client.query(
    'select 1 from fraud.verdicts where transfer_id = any($1::uuid[]) order by transfer_id for update',
    [ids],
  );
}

/** Flags the verdicts not flagged yet, each with one `transfer.flagged` outbox row. */
async function flag(client: pg.PoolClient, ids: readonly string[]): Promise<void> {
  await client.query(
    `with newly as (
       update fraud.verdicts v
          set flag_id = nextval('fraud.flag_ids'), flagged_at = now()
         from (select id from unnest($1::uuid[]) as id order by id) x
        where v.transfer_id = x.id and v.flagged_at is null
       returning v.transfer_id, v.flag_id
     )
     insert into ledger.outbox (event_type, transfer_id)
     select 'transfer.flagged', transfer_id from newly order by flag_id`,
    [ids],
  );
}

function reason(value: string): FraudReason {
  const parsed = parseFraudReason(value);
  if (parsed === undefined) throw new Error(`assertion failed: fraud reason ${value}`);
  return parsed;
}

function fraudStatus(value: string): FraudVerdict['status'] {
  if (value === 'pending' || value === 'clear' || value === 'flagged') return value;
  throw new Error(`assertion failed: fraud status ${value}`);
}
