/**
 * `npm run verify-ledger -- [--after ID] [--limit N] [--steps N] [--seal] [--json]` recomputes
 * the journal's SHA-256 chain from the entries and reports the first broken link, or ok with the
 * count and the head hash. It reads the database DATABASE_URL names, or the one `npm start` runs.
 * Work is bounded: at most `--steps` steps of `--limit` links each; when the bound comes before
 * the head, it says where to go on (`--after`). With `--seal` it first runs the sealer once, so
 * entries posted until then are covered.
 *
 * Exit code: 0 ok, 1 broken, 3 incomplete (the step bound came first), 2 usage.
 */
import { parseArgs } from 'node:util';
import { Logger } from '@aws-lambda-powertools/logger';
import { PostgresLedgerChainStore } from '../../shared/adapters/postgres/ledger-chain-store';
import { createPool } from '../../shared/adapters/postgres/pool';
import {
  LedgerChainService,
  sealEntryCountMax,
  verifyEntryCountMax,
} from '../../shared/services/ledger-chain';
import { readLocalSettings } from '../../shared/settings';

const usage = `usage: npm run verify-ledger -- [--after ID] [--limit N] [--steps N] [--seal] [--json]

  --after   start after this sealed entry id (default 0: the start of the chain)
  --limit   links checked per step, 1 to ${verifyEntryCountMax} (default ${verifyEntryCountMax})
  --steps   steps at most (default 1000)
  --seal    run the sealer once first
  --json    print one JSON line

The database is DATABASE_URL, or the one 'npm start' runs.`;

const stepCountDefault = 1_000;
/** The sealer run --seal makes: enough calls for a million entries. */
const sealCallCountMax = 200;
const horizonWaitMs = 50;

function positiveInteger(value: string | undefined, fallback: number, max: number): number | undefined {
  if (value === undefined) return fallback;
  if (!/^[1-9][0-9]{0,8}$/.test(value)) return undefined;
  const parsed = Number.parseInt(value, 10);
  return parsed <= max ? parsed : undefined;
}

async function main(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      after: { type: 'string' },
      limit: { type: 'string' },
      steps: { type: 'string' },
      seal: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
  });
  const entryCountMax = positiveInteger(values.limit, verifyEntryCountMax, verifyEntryCountMax);
  const stepCountMax = positiveInteger(values.steps, stepCountDefault, 1_000_000);
  const after = values.after ?? '0';
  if (entryCountMax === undefined || stepCountMax === undefined || !/^(0|[1-9][0-9]{0,18})$/.test(after)) {
    console.error(usage);
    return 2;
  }
  const settings = readLocalSettings();
  const url =
    settings.databaseUrl ?? `postgres://postgres:postgres@localhost:${settings.databasePort}/postgres`;
  const pool = createPool(url);
  const logger = new Logger({ serviceName: 'ledgerx-verify-ledger', logLevel: 'WARN' });
  try {
    const chain = new LedgerChainService(new PostgresLedgerChainStore(pool), logger);
    if (values.seal) {
      await chain.sealRun({
        entryCountMax: sealEntryCountMax,
        callCountMax: sealCallCountMax,
        horizonWaitMs,
      });
    }
    const summary = await chain.verifyChain({ afterEntryId: BigInt(after), entryCountMax, stepCountMax });
    const report = {
      status: summary.status,
      checked_count: summary.checkedCount,
      steps: summary.stepCount,
      sealed_through_entry_id: summary.sealedThroughEntryId.toString(),
      head_hash: summary.headHash,
      broken:
        summary.broken === undefined
          ? null
          : { entry_id: summary.broken.entryId.toString(), reason: summary.broken.reason },
      next_after_entry_id: summary.nextAfterEntryId?.toString() ?? null,
    };
    if (values.json) {
      console.info(JSON.stringify(report));
    } else if (summary.status === 'ok') {
      console.info(
        `ok: ${summary.checkedCount} links checked, sealed through entry ${report.sealed_through_entry_id}, head ${summary.headHash}`,
      );
    } else if (summary.status === 'broken') {
      console.info(
        `broken: entry ${report.broken?.entry_id} (${report.broken?.reason}), after ${summary.checkedCount} links that hold`,
      );
    } else {
      console.info(
        `incomplete: ${summary.checkedCount} links hold; go on with --after ${report.next_after_entry_id}`,
      );
    }
    return summary.status === 'ok' ? 0 : summary.status === 'broken' ? 1 : 3;
  } finally {
    await pool.end();
  }
}

process.exitCode = await main(process.argv.slice(2));
