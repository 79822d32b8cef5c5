import { PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
} from '@aws-sdk/client-sqs';
import type pg from 'pg';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import invariantCheckerFunction from '../../functions/invariant-checker';
import { invariantMetricNames, metricsNamespace } from '../../shared/adapters/aws/invariant-metrics';
import { PostgresLedgerStore } from '../../shared/adapters/postgres/ledger-store';
import type { AccountId } from '../../shared/domain/ids';
import { toTransferMessage } from '../../shared/domain/transfer';
import {
  type InvariantCheckLimits,
  type InvariantCheckRun,
  invariantCheckDefaults,
} from '../../shared/services/invariant-checker';
import { topology } from '../../shared/topology';
import { testWiring } from '../support/api';
import { useTestAws } from '../support/aws';
import { useTestDatabase } from '../support/database';
import { createAccount, fund, transferFactory } from '../support/factories';

const database = useTestDatabase();
const aws = useTestAws();

/** The queue an EventBridge rule for `ledger.invariant_violated` delivers to, as an operator would set up. */
let violationQueueUrl = '';

beforeAll(async () => {
  const queue = await aws.clients.sqs.send(
    new CreateQueueCommand({ QueueName: `${aws.namePrefix}invariant-violations` }),
  );
  violationQueueUrl = queue.QueueUrl ?? '';
  const attributes = await aws.clients.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: violationQueueUrl, AttributeNames: ['QueueArn'] }),
  );
  const rule = `${aws.namePrefix}invariant-violated`;
  await aws.clients.eventBridge.send(
    new PutRuleCommand({
      Name: rule,
      EventBusName: aws.resources.eventBusName,
      EventPattern: JSON.stringify({
        source: [topology.eventBus.source],
        'detail-type': ['ledger.invariant_violated'],
      }),
    }),
  );
  await aws.clients.eventBridge.send(
    new PutTargetsCommand({
      Rule: rule,
      EventBusName: aws.resources.eventBusName,
      Targets: [{ Id: 'violations', Arn: attributes.Attributes?.QueueArn }],
    }),
  );
});

// Each test starts the checker from nothing (it then checks the whole small ledger again), so
// what one test planted and undid is not remembered by the next.
beforeEach(async () => {
  await database.ownerPool.query(`
    delete from ledger.invariant_violations;
    delete from ledger.invariant_account_sums;
    update ledger.invariant_checkpoint
       set entry_id_checked = 0, frontier_entry_id = null, frontier_holders = null,
           account_cursor = null, scrub_entry_id = 0, step_count = 0, checked_at = null;`);
});

afterEach(() => {
  vi.restoreAllMocks();
});

/** A clock that moves on by `stepMs` each time it is read, from a fixed instant. */
function steppingClock(stepMs: number): () => Date {
  let nowMs = Date.parse('2026-11-30T04:00:00.000Z');
  return () => {
    const now = new Date(nowMs);
    nowMs += stepMs;
    return now;
  };
}

/** The checker as the functions get it, with the limits and clock given. */
function checker(options: { limits?: Partial<InvariantCheckLimits>; now?: () => Date } = {}) {
  return testWiring(database.pool, {
    clients: aws.clients,
    resources: aws.resources,
    checker: { ...invariantCheckDefaults, ...options.limits },
    ...(options.now === undefined ? {} : { now: options.now }),
  }).services.invariantChecker;
}

/** Posts `count` transfers of 1 between two fresh accounts through the engine: two entries each. */
async function postTransfers(count: number): Promise<{ debit: AccountId; credit: AccountId }> {
  const debit = await createAccount(database.pool);
  const credit = await createAccount(database.pool);
  await new PostgresLedgerStore(database.pool).postBatch(
    Array.from({ length: count }, () =>
      transferFactory({ debitAccountId: debit, creditAccountId: credit, amount: 1n }),
    ),
    [],
  );
  return { debit, credit };
}

async function lastEntryId(): Promise<bigint> {
  const { rows } = await database.pool.query<{ id: string }>(
    'select coalesce(max(id), 0)::text as id from ledger.entries',
  );
  return BigInt(rows[0]?.id ?? '0');
}

/** Runs `work` as the table owner with triggers and rules off, as someone going behind the engine. */
async function behindTheEngine(work: (client: pg.PoolClient) => Promise<void>): Promise<void> {
  const client = await database.ownerPool.connect();
  try {
    await client.query('begin');
    await client.query('set local session_replication_role = replica');
    await work(client);
    await client.query('commit');
  } catch (error) {
    await client.query('rollback');
    throw error;
  } finally {
    client.release();
  }
}

/** The violation events delivered to the rule's queue since the last call (a bounded drain). */
async function receiveViolationEvents(): Promise<
  { 'detail-type': string; detail: Record<string, unknown> }[]
> {
  const events: { 'detail-type': string; detail: Record<string, unknown> }[] = [];
  for (let call = 0; call < 10; call += 1) {
    const { Messages = [] } = await aws.clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: violationQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
    );
    if (Messages.length === 0) break;
    for (const message of Messages) events.push(JSON.parse(message.Body ?? '{}'));
    await aws.clients.sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: violationQueueUrl,
        Entries: Messages.map((message, index) => ({
          Id: String(index),
          ReceiptHandle: message.ReceiptHandle,
        })),
      }),
    );
  }
  return events;
}

function violationsOf(run: InvariantCheckRun): string[] {
  return run.recorded.violations.map((violation) => `${violation.invariant} ${violation.subject}`).sort();
}

describe('the invariant checker', () => {
  it('finds nothing in a sound ledger, advances its checkpoint, and checks nothing twice', async () => {
    await postTransfers(3);
    await fund(database.pool, await createAccount(database.pool, { debitsMustNotExceedCredits: true }), 50n);
    const last = await lastEntryId();

    const first = await checker().run();
    const second = await checker().run();

    expect(first).toMatchObject({
      stoppedBy: 'caught-up',
      entryIdChecked: last,
      entryBacklogCount: 0n,
      foundCount: 0,
      newCount: 0,
      recorded: { count: 0, violations: [], truncated: false },
    });
    expect(first.entryCount).toBe(Number(last));
    expect(second).toMatchObject({
      stoppedBy: 'caught-up',
      entryCount: 0,
      entryIdChecked: last,
      foundCount: 0,
    });
    // The second run re-reads old entries only in its scrub, never as new ones.
    expect(second.scrubEntryCount).toBe(Number(last));
  });

  it('stops at its entry limit, and the next run continues where it stopped', async () => {
    await postTransfers(5);
    const last = await lastEntryId();
    const limits = { entryCountMax: 4, step: { ...invariantCheckDefaults.step, entryCountMax: 2 } };

    const runs: InvariantCheckRun[] = [];
    for (let index = 0; index < 10 && runs.at(-1)?.stoppedBy !== 'caught-up'; index += 1) {
      runs.push(await checker({ limits }).run());
    }

    // Every run but the last stops at 4 entries in two steps; together they check each entry once.
    expect(runs.slice(0, -1).map((run) => [run.stoppedBy, run.entryCount, run.stepCount])).toEqual(
      runs.slice(0, -1).map(() => ['entry-count', 4, 2]),
    );
    expect(runs.map((run) => run.entryCount).reduce((sum, count) => sum + count, 0)).toBe(Number(last));
    expect(runs.at(-1)).toMatchObject({
      stoppedBy: 'caught-up',
      entryIdChecked: last,
      entryBacklogCount: 0n,
    });
    expect(runs[0]?.entryBacklogCount).toBe(last - 4n);
    expect(runs.every((run) => run.foundCount === 0)).toBe(true);
  });

  it('starts no step once its time budget is spent, and the next run continues', async () => {
    await postTransfers(3);
    const last = await lastEntryId();
    // Every reading of the clock is a second later: the budget is spent after the first step.
    const limits = { timeBudgetMs: 500, step: { ...invariantCheckDefaults.step, entryCountMax: 2 } };

    const first = await checker({ limits, now: steppingClock(1_000) }).run();
    const rest = await checker().run();

    expect(first).toMatchObject({
      stoppedBy: 'time-budget',
      stepCount: 1,
      entryCount: 2,
      entryIdChecked: 2n,
    });
    expect(rest).toMatchObject({
      stoppedBy: 'caught-up',
      entryCount: Number(last) - 2,
      entryIdChecked: last,
    });
  });

  it('checks no entry past one whose transaction is still open, then checks it once it commits', async () => {
    const { debit, credit } = await postTransfers(1);
    const open = await database.pool.connect();
    try {
      // A posting transaction that has drawn its entry ids and not committed yet.
      await open.query('begin');
      const slow = transferFactory({ debitAccountId: debit, creditAccountId: credit, amount: 1n });
      await open.query('select * from ledger.post_transfers($1::jsonb)', [
        JSON.stringify([toTransferMessage(slow)]),
      ]);
      const openFirstId = (await lastEntryId()) + 1n;
      // A later transfer commits entries with higher ids meanwhile.
      await postTransfers(1);

      const during = await checker().run();
      await open.query('commit');
      const after = await checker().run();

      expect(during.entryIdChecked).toBeLessThan(openFirstId);
      expect(after).toMatchObject({
        stoppedBy: 'caught-up',
        entryIdChecked: await lastEntryId(),
        foundCount: 0,
      });
      expect(during.entryCount + after.entryCount).toBe(Number(await lastEntryId()));
    } finally {
      await open.query('rollback').catch(() => undefined);
      open.release();
    }
  });

  it('under a steady stream of writers, goes as far as an earlier run saw ids drawn once those writers ended', async () => {
    const { debit, credit } = await postTransfers(1);
    const [first, second] = [await database.pool.connect(), await database.pool.connect()];
    /** Begins a posting transaction that draws its entry ids and stays open. */
    const postAndHold = async (connection: pg.PoolClient): Promise<void> => {
      const transfer = transferFactory({ debitAccountId: debit, creditAccountId: credit, amount: 1n });
      await connection.query('begin');
      await connection.query('select * from ledger.post_transfers($1::jsonb)', [
        JSON.stringify([toTransferMessage(transfer)]),
      ]);
    };
    try {
      await postAndHold(first);
      const whileFirstOpen = await checker().run();
      await first.query('commit');
      const firstLastId = await lastEntryId();
      // A second writer is in flight when the next run looks: nobody is ever not writing.
      await postAndHold(second);
      const whileSecondOpen = await checker().run();
      await second.query('commit');
      const afterBoth = await checker().run();

      expect(whileFirstOpen.entryIdChecked).toBeLessThan(firstLastId - 1n);
      expect(whileSecondOpen).toMatchObject({ stoppedBy: 'caught-up', entryIdChecked: firstLastId });
      expect(afterBoth).toMatchObject({
        stoppedBy: 'caught-up',
        entryIdChecked: await lastEntryId(),
        foundCount: 0,
      });
    } finally {
      for (const connection of [first, second]) {
        await connection.query('rollback').catch(() => undefined);
        connection.release();
      }
    }
  });

  it('finds an entry whose amount was changed after it was checked, records it once, and publishes one event', async () => {
    await postTransfers(2);
    await checker().run();
    const { rows } = await database.pool.query<{ id: string; transfer_id: string }>(
      'select id::text, transfer_id::text from ledger.entries order by id desc limit 1',
    );
    const entry = rows[0];
    if (entry === undefined) throw new Error('the test posted entries');
    await behindTheEngine((client) =>
      client
        .query('update ledger.entries set amount = amount + 1 where id = $1', [entry.id])
        .then(() => undefined),
    );
    const stdout = vi.spyOn(process.stdout, 'write');
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');

    try {
      const found = await checker().run();
      const again = await checker().run();
      const events = await receiveViolationEvents();

      const expected = [`entries_sum_to_zero ${entry.transfer_id}`, `running_totals_consistent ${entry.id}`];
      expect(violationsOf(found)).toEqual(expected);
      expect(found).toMatchObject({ newCount: 2, publishedCount: 2 });
      expect(again).toMatchObject({ newCount: 0, publishedCount: 0, foundCount: 2 });
      expect(violationsOf(again)).toEqual(expected);
      expect(events).toHaveLength(2);
      expect(
        events
          .map((event) => {
            const violation = event.detail.violation as { invariant: string; subject: string };
            return `${violation.invariant} ${violation.subject}`;
          })
          .sort(),
      ).toEqual(expected);
      expect(new Set(events.map((event) => event['detail-type']))).toEqual(
        new Set(['ledger.invariant_violated']),
      );
      // The metrics of each run, in the embedded metric format.
      const metrics = stdout.mock.calls
        .map(([chunk]) => String(chunk))
        .filter((line) => line.includes(metricsNamespace) && line.includes(invariantMetricNames.violations))
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(
        metrics.map((metric) => [
          metric[invariantMetricNames.recordedViolations],
          metric[invariantMetricNames.violations],
          metric[invariantMetricNames.newViolations],
        ]),
      ).toEqual([
        [2, 2, 2],
        [2, 2, 0],
      ]);
    } finally {
      vi.unstubAllEnvs();
      await behindTheEngine((client) =>
        client
          .query('update ledger.entries set amount = amount - 1 where id = $1', [entry.id])
          .then(() => undefined),
      );
    }
  });

  it("finds an account whose totals were changed behind the engine's back", async () => {
    const { debit } = await postTransfers(2);
    await checker().run();
    await behindTheEngine((client) =>
      client
        .query('update ledger.accounts set debits_posted = debits_posted + 7 where id = $1', [debit])
        .then(() => undefined),
    );

    try {
      const found = await checker().run();

      expect(violationsOf(found)).toEqual([`account_totals_equal_entries ${debit}`]);
      expect(found.recorded.violations[0]?.detail).toBe('debits_posted 9 vs 2, credits_posted 0 vs 0');
      expect((await receiveViolationEvents()).length).toBe(1);
    } finally {
      await behindTheEngine((client) =>
        client
          .query('update ledger.accounts set debits_posted = debits_posted - 7 where id = $1', [debit])
          .then(() => undefined),
      );
    }
  });

  it('finds a flagged account that overdrew', async () => {
    const wallet = await createAccount(database.pool, { debitsMustNotExceedCredits: true });
    await fund(database.pool, wallet, 10n);
    await checker().run();
    // The table's own check would refuse the overdraft, so it goes first, as a careless owner might.
    await behindTheEngine(async (client) => {
      await client.query(
        'alter table ledger.accounts drop constraint accounts_debits_must_not_exceed_credits',
      );
      await client.query('update ledger.accounts set debits_posted = 11 where id = $1', [wallet]);
    });

    try {
      const found = await checker().run();
      const functionAnswer = await invariantCheckerFunction.build(
        testWiring(database.pool, { clients: aws.clients, resources: aws.resources }),
      )();

      expect(violationsOf(found)).toEqual(
        [`account_totals_equal_entries ${wallet}`, `flagged_account_within_limit ${wallet}`].sort(),
      );
      expect(
        found.recorded.violations.find((violation) => violation.invariant === 'flagged_account_within_limit')
          ?.detail,
      ).toBe('debits 11 + pending 0, credits 10 + pending 0');
      // The scheduled function answers the same run as JSON (no bigint).
      expect(functionAnswer).toMatchObject({ stoppedBy: 'caught-up', newCount: 0, recordedCount: 2 });
      expect(JSON.parse(JSON.stringify(functionAnswer))).toEqual(functionAnswer);
    } finally {
      await behindTheEngine(async (client) => {
        await client.query('update ledger.accounts set debits_posted = 0 where id = $1', [wallet]);
        await client.query(`alter table ledger.accounts add constraint accounts_debits_must_not_exceed_credits
          check (not debits_must_not_exceed_credits or debits_posted + debits_pending <= credits_posted)`);
      });
    }
  });
});
