/**
 * The fraud evaluation: seeded synthetic traffic through the real scoring and pattern services
 * (the model functions the Lambdas call), with profiles in memory, then precision and recall per
 * injected kind and overall. `npm run eval:fraud -- --seed 7` prints the table.
 *
 * Recall of a kind: its injected transfers that ended flagged, over all of them. Precision of a
 * kind: its flagged injected transfers over those plus every false flag on normal traffic (as if
 * that kind were the only fraud there is), so each kind's precision carries every false alarm.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import {
  defaultFraudSettings,
  type FraudReason,
  type FraudSettings,
  fraudReasons,
} from '../../shared/domain/fraud';
import { FraudPatternService, FraudScoringService, type PostedEvent } from '../../shared/services/fraud';
import { MemoryFraudStore } from './memory-fraud-store';
import {
  type AnomalyKind,
  anomalyKinds,
  defaultTrafficOptions,
  generateTraffic,
  seededRandom,
  type TrafficOptions,
} from './traffic';

export interface KindResult {
  readonly injected: number;
  readonly caught: number;
  readonly precision: number;
  readonly recall: number;
}

export interface EvaluationResult {
  readonly seed: number;
  readonly transferCount: number;
  readonly evaluatedNormalCount: number;
  readonly falseFlagCount: number;
  /** Of the normal transfers evaluated, those of business accounts and how many were flagged. */
  readonly business: { readonly evaluatedNormalCount: number; readonly falseFlagCount: number };
  /** The false flags by the reasons they carry (one flag may carry several). */
  readonly falseFlagReasons: Readonly<Partial<Record<FraudReason, number>>>;
  readonly kinds: Readonly<Record<AnomalyKind, KindResult>>;
  readonly overall: KindResult;
}

/** Every this many events one is delivered twice, as SQS may; a duplicate must change nothing. */
const redeliveryEvery = 50;

export async function evaluateFraud(
  traffic: Partial<TrafficOptions> = {},
  settings: FraudSettings = defaultFraudSettings,
): Promise<EvaluationResult> {
  const options = { ...defaultTrafficOptions, ...traffic };
  const transfers = generateTraffic(options);
  const store = new MemoryFraudStore();
  const logger = new Logger({ serviceName: 'eval', logLevel: 'SILENT' });
  const scorer = new FraudScoringService(store, settings, logger);
  const patterns = new FraudPatternService(store, settings, logger);
  const random = seededRandom(options.seed + 1);

  for (const [index, transfer] of transfers.entries()) {
    const event: PostedEvent = {
      eventId: `event-${index}-${Math.floor(random() * 1e9)}`,
      transfer,
    };
    const deliveries = index % redeliveryEvery === 0 ? 2 : 1;
    for (let delivery = 0; delivery < deliveries; delivery += 1) {
      await scorer.score(event);
      await patterns.check(event);
    }
  }

  const flagged = (transferId: string): boolean => store.verdicts.get(transferId)?.flagged ?? false;
  const evaluated = transfers.filter((transfer) => transfer.evaluated);
  const normal = evaluated.filter((transfer) => transfer.kind === undefined);
  const falseFlags = normal.filter((transfer) => flagged(transfer.transferId));
  const falseFlagCount = falseFlags.length;
  const falseFlagReasons: Partial<Record<FraudReason, number>> = {};
  for (const transfer of falseFlags) {
    for (const reason of store.reasonsOf(transfer.transferId)) {
      falseFlagReasons[reason] = (falseFlagReasons[reason] ?? 0) + 1;
    }
  }
  const businessNormal = normal.filter((transfer) => transfer.business);
  const result = (injected: number, caught: number): KindResult => ({
    injected,
    caught,
    precision: caught + falseFlagCount === 0 ? 1 : caught / (caught + falseFlagCount),
    recall: injected === 0 ? 1 : caught / injected,
  });
  const kinds = {} as Record<AnomalyKind, KindResult>;
  let injectedAll = 0;
  let caughtAll = 0;
  for (const kind of anomalyKinds) {
    const ofKind = transfers.filter((transfer) => transfer.kind === kind);
    const caught = ofKind.filter((transfer) => flagged(transfer.transferId)).length;
    kinds[kind] = result(ofKind.length, caught);
    injectedAll += ofKind.length;
    caughtAll += caught;
  }
  return {
    seed: options.seed,
    transferCount: transfers.length,
    evaluatedNormalCount: normal.length,
    falseFlagCount,
    business: {
      evaluatedNormalCount: businessNormal.length,
      falseFlagCount: businessNormal.filter((transfer) => flagged(transfer.transferId)).length,
    },
    falseFlagReasons,
    kinds,
    overall: result(injectedAll, caughtAll),
  };
}

/** The result as a Markdown table, as docs/fraud.md shows it. */
export function formatEvaluation(result: EvaluationResult): string {
  const row = (name: string, kind: KindResult): string =>
    `| ${name.padEnd(27)} | ${String(kind.injected).padStart(8)} | ${String(kind.caught).padStart(6)} | ${kind.precision.toFixed(3).padStart(9)} | ${kind.recall.toFixed(3).padStart(6)} |`;
  const reasons = fraudReasons
    .filter((reason) => (result.falseFlagReasons[reason] ?? 0) > 0)
    .map((reason) => `${reason} ${result.falseFlagReasons[reason]}`);
  return [
    `seed ${result.seed}: ${result.transferCount} transfers, ${result.evaluatedNormalCount} normal ones evaluated, ${result.falseFlagCount} of them flagged`,
    `(business accounts: ${result.business.evaluatedNormalCount} normal ones evaluated, ${result.business.falseFlagCount} of them flagged; false flags by reason: ${reasons.length === 0 ? 'none' : reasons.join(', ')})`,
    '',
    `| ${'kind'.padEnd(27)} | injected | caught | precision | recall |`,
    `| ${'-'.repeat(27)} | -------: | -----: | --------: | -----: |`,
    ...anomalyKinds.map((kind) => row(`\`${kind}\``, result.kinds[kind])),
    row('overall', result.overall),
  ].join('\n');
}

function seedArgument(argv: readonly string[]): number {
  const index = argv.indexOf('--seed');
  const inline = argv.find((argument) => argument.startsWith('--seed='));
  const text =
    inline !== undefined ? inline.slice('--seed='.length) : index >= 0 ? argv[index + 1] : undefined;
  if (text === undefined) return defaultTrafficOptions.seed;
  if (!/^[0-9]{1,9}$/.test(text)) throw new RangeError('--seed takes a whole number');
  return Number.parseInt(text, 10);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await evaluateFraud({ seed: seedArgument(process.argv.slice(2)) });
  process.stdout.write(`${formatEvaluation(result)}\n`);
}
