/**
 * A seeded generator of synthetic transfer traffic: many accounts, each with a daily rhythm, a few
 * regular counterparties and typical amounts, plus injected anomalies of several kinds, each
 * labelled. The same seed gives the same traffic.
 */
import { defaultFraudSettings } from '../../shared/domain/fraud';

export const anomalyKinds = [
  'amount_spike',
  'odd_hour_new_counterparty',
  'burst_fan_out',
  'structuring',
  'account_takeover',
] as const;
export type AnomalyKind = (typeof anomalyKinds)[number];

/** One generated transfer; `kind` is set on injected anomalies. */
export interface SyntheticTransfer {
  readonly transferId: string;
  readonly debitAccountId: string;
  readonly creditAccountId: string;
  readonly amount: bigint;
  readonly postedAt: string;
  readonly kind: AnomalyKind | undefined;
  /** Whether it falls in the evaluation period (the warm-up before it only teaches the profiles). */
  readonly evaluated: boolean;
}

export interface TrafficOptions {
  readonly seed: number;
  readonly accountCount: number;
  readonly warmUpDays: number;
  readonly evaluationDays: number;
  /** Injected cases of each kind (a case of a multi-transfer kind is several transfers). */
  readonly casesPerKind: number;
}

export const defaultTrafficOptions: TrafficOptions = {
  seed: 42,
  accountCount: 150,
  warmUpDays: 30,
  evaluationDays: 14,
  casesPerKind: 60,
};

/** mulberry32: a small, fast, seedable generator; good enough for synthetic traffic. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

interface Behaviour {
  readonly id: string;
  readonly centreHour: number;
  readonly hourSd: number;
  readonly counterparties: readonly string[];
  readonly newCounterpartyRate: number;
  readonly logMedianAmount: number;
  readonly amountSigma: number;
  readonly transfersPerDay: number;
}

const dayMs = 24 * 3600 * 1000;
const pauseMs = 3600 * 1000;
const startMs = Date.UTC(2026, 0, 5);

export function generateTraffic(options: TrafficOptions = defaultTrafficOptions): SyntheticTransfer[] {
  const random = seededRandom(options.seed);
  const uniform = (low: number, high: number): number => low + (high - low) * random();
  const normal = (): number => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const poisson = (mean: number): number => {
    let count = 0;
    let product = random();
    while (product > Math.exp(-mean)) {
      count += 1;
      product *= random();
    }
    return count;
  };
  // Ids come from the seed too, so two runs of one seed are the same traffic.
  const id = (): string => {
    const hex = Array.from({ length: 32 }, () => Math.floor(random() * 16).toString(16)).join('');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
  };
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const amountOf = (behaviour: Behaviour, factor = 1): bigint => {
    const value = Math.exp(behaviour.logMedianAmount + behaviour.amountSigma * normal()) * factor;
    return BigInt(Math.max(1, Math.round(value)));
  };
  const timeOnDay = (day: number, hour: number): number =>
    startMs + day * dayMs + (((hour % 24) + 24) % 24) * 3600_000;

  const behaviours: Behaviour[] = Array.from({ length: options.accountCount }, () => ({
    id: id(),
    centreHour: uniform(7, 21),
    hourSd: uniform(1, 2.5),
    counterparties: Array.from({ length: 3 + Math.floor(random() * 6) }, id),
    newCounterpartyRate: uniform(0.02, 0.08),
    logMedianAmount: uniform(Math.log(1_000), Math.log(100_000)),
    amountSigma: uniform(0.3, 0.6),
    transfersPerDay: uniform(1, 5),
  }));

  const transfers: SyntheticTransfer[] = [];
  const totalDays = options.warmUpDays + options.evaluationDays;
  const evaluationStartMs = startMs + options.warmUpDays * dayMs;
  const add = (
    behaviour: Behaviour,
    creditAccountId: string,
    amount: bigint,
    atMs: number,
    kind?: AnomalyKind,
  ) => {
    transfers.push({
      transferId: id(),
      debitAccountId: behaviour.id,
      creditAccountId,
      amount,
      postedAt: new Date(Math.floor(atMs)).toISOString(),
      kind,
      evaluated: atMs >= evaluationStartMs,
    });
  };

  for (const behaviour of behaviours) {
    for (let day = 0; day < totalDays; day += 1) {
      for (let count = poisson(behaviour.transfersPerDay); count > 0; count -= 1) {
        const counterparty = random() < behaviour.newCounterpartyRate ? id() : regular(behaviour, random);
        add(
          behaviour,
          counterparty,
          amountOf(behaviour),
          timeOnDay(day, behaviour.centreHour + behaviour.hourSd * normal()),
        );
      }
    }
  }

  const { structuringLimit } = defaultFraudSettings;
  const cases: { account: string; fromMs: number; toMs: number }[] = [];
  for (const kind of anomalyKinds) {
    for (let index = 0; index < options.casesPerKind; index += 1) {
      const before = transfers.length;
      const behaviour = pick(behaviours);
      const day = options.warmUpDays + Math.floor(random() * options.evaluationDays);
      const usualHour = behaviour.centreHour + behaviour.hourSd * 0.5 * normal();
      switch (kind) {
        case 'amount_spike':
          add(
            behaviour,
            regular(behaviour, random),
            amountOf(behaviour, uniform(15, 60)),
            timeOnDay(day, usualHour),
            kind,
          );
          break;
        case 'odd_hour_new_counterparty':
          add(
            behaviour,
            id(),
            amountOf(behaviour),
            timeOnDay(day, behaviour.centreHour + 12 + uniform(-1, 1)),
            kind,
          );
          break;
        case 'burst_fan_out': {
          let at = timeOnDay(day, usualHour);
          for (let step = 0; step < 8; step += 1) {
            add(behaviour, id(), amountOf(behaviour, uniform(0.5, 1.5)), at, kind);
            at += uniform(15, 45) * 1000;
          }
          break;
        }
        case 'structuring': {
          let at = timeOnDay(day, usualHour - 3);
          for (let step = 0; step < 4; step += 1) {
            const basisPoints = BigInt(Math.floor(uniform(9_600, 9_995)));
            add(behaviour, regular(behaviour, random), (structuringLimit * basisPoints) / 10_000n, at, kind);
            at += uniform(1, 2) * 3600_000;
          }
          break;
        }
        case 'account_takeover': {
          const attacker = id();
          let at = timeOnDay(day, behaviour.centreHour + 10 + uniform(-1, 1));
          for (let step = 0; step < 3; step += 1) {
            add(behaviour, attacker, amountOf(behaviour, uniform(5, 10)), at, kind);
            at += uniform(10, 40) * 60_000;
          }
          break;
        }
      }
      const injected = transfers.slice(before).map((transfer) => Date.parse(transfer.postedAt));
      cases.push({ account: behaviour.id, fromMs: Math.min(...injected), toMs: Math.max(...injected) });
    }
  }
  // The account's own activity pauses around an injected case (an hour after it, as the recent
  // count decays), so no normal transfer is mixed into a burst it did not take part in.
  const clean = transfers.filter(
    (transfer) =>
      transfer.kind !== undefined ||
      !cases.some((injected) => {
        const at = Date.parse(transfer.postedAt);
        return (
          injected.account === transfer.debitAccountId &&
          at >= injected.fromMs - pauseMs &&
          at <= injected.toMs + pauseMs
        );
      }),
  );
  return clean.sort(
    (a, b) => a.postedAt.localeCompare(b.postedAt) || a.transferId.localeCompare(b.transferId),
  );
}

function regular(behaviour: Behaviour, random: () => number): string {
  // Zipf-like: the first counterparty is paid most often.
  const weights = behaviour.counterparties.map((_, index) => 1 / (index + 1));
  let point = random() * weights.reduce((sum, weight) => sum + weight, 0);
  for (const [index, weight] of weights.entries()) {
    point -= weight;
    if (point <= 0) return behaviour.counterparties[index] as string;
  }
  return behaviour.counterparties[0] as string;
}
