/**
 * A seeded generator of synthetic transfer traffic: many accounts, each with a daily rhythm, a few
 * regular counterparties and typical amounts, some business accounts that also pay their many
 * usual counterparties in runs of dozens within minutes, plus injected anomalies of several
 * kinds, each labelled. The same seed gives the same traffic.
 */
import { defaultFraudSettings } from '../../shared/domain/fraud';

export const anomalyKinds = [
  'amount_spike',
  'odd_hour_new_counterparty',
  'burst_fan_out',
  'structuring',
  'account_takeover',
  'business_fan_out',
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
  /** Whether a business account paid it. */
  readonly business: boolean;
}

export interface TrafficOptions {
  readonly seed: number;
  readonly accountCount: number;
  readonly warmUpDays: number;
  readonly evaluationDays: number;
  /**
   * Business accounts, besides `accountCount`: they pay 8 to 25 usual counterparties, mostly in
   * payment runs of 10 to 40 transfers within minutes, and the `business_fan_out` cases are theirs
   * (none without them). They come from a random stream of their own, so adding them leaves the
   * other accounts' traffic and cases as they were for the same seed.
   */
  readonly businessAccountCount: number;
  /** Injected cases of each kind (a case of a multi-transfer kind is several transfers). */
  readonly casesPerKind: number;
}

export const defaultTrafficOptions: TrafficOptions = {
  seed: 42,
  accountCount: 150,
  warmUpDays: 30,
  evaluationDays: 14,
  businessAccountCount: 8,
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

interface BusinessBehaviour extends Behaviour {
  /** Payment runs a day, each many transfers to usual counterparties within minutes. */
  readonly runsPerDay: number;
}

/** The draws traffic is made of, all from one random stream. */
interface Sampler {
  readonly random: () => number;
  uniform(low: number, high: number): number;
  normal(): number;
  poisson(mean: number): number;
  id(): string;
  pick<T>(items: readonly T[]): T;
  amountOf(behaviour: Behaviour, factor?: number): bigint;
}

function sampler(random: () => number): Sampler {
  const normal = (): number => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  return {
    random,
    uniform: (low, high) => low + (high - low) * random(),
    normal,
    poisson: (mean) => {
      let count = 0;
      let product = random();
      while (product > Math.exp(-mean)) {
        count += 1;
        product *= random();
      }
      return count;
    },
    // Ids come from the seed too, so two runs of one seed are the same traffic.
    id: () => {
      const hex = Array.from({ length: 32 }, () => Math.floor(random() * 16).toString(16)).join('');
      return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
    },
    pick: <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T,
    amountOf: (behaviour, factor = 1) => {
      const value = Math.exp(behaviour.logMedianAmount + behaviour.amountSigma * normal()) * factor;
      return BigInt(Math.max(1, Math.round(value)));
    },
  };
}

const dayMs = 24 * 3600 * 1000;
const pauseMs = 3600 * 1000;
const startMs = Date.UTC(2026, 0, 5);

export function generateTraffic(options: TrafficOptions = defaultTrafficOptions): SyntheticTransfer[] {
  const consumer = sampler(seededRandom(options.seed));
  // Business accounts draw from a stream of their own (see `businessAccountCount`).
  const business = sampler(seededRandom(options.seed ^ 0x5bd1e995));
  const { random, uniform, normal, poisson, id, pick, amountOf } = consumer;
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
  const addFrom = (
    draw: Sampler,
    behaviour: Behaviour,
    creditAccountId: string,
    amount: bigint,
    atMs: number,
    kind?: AnomalyKind,
  ) => {
    transfers.push({
      transferId: draw.id(),
      debitAccountId: behaviour.id,
      creditAccountId,
      amount,
      postedAt: new Date(Math.floor(atMs)).toISOString(),
      kind,
      evaluated: atMs >= evaluationStartMs,
      business: draw === business,
    });
  };
  const add = (
    behaviour: Behaviour,
    creditAccountId: string,
    amount: bigint,
    atMs: number,
    kind?: AnomalyKind,
  ) => addFrom(consumer, behaviour, creditAccountId, amount, atMs, kind);

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
    // The business accounts' cases come from their own stream, below.
    if (kind === 'business_fan_out') continue;
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
        default:
          throw new Error(`assertion failed: no consumer case of ${kind}`);
      }
      const injected = transfers.slice(before).map((transfer) => Date.parse(transfer.postedAt));
      cases.push({ account: behaviour.id, fromMs: Math.min(...injected), toMs: Math.max(...injected) });
    }
  }

  const businesses: BusinessBehaviour[] = Array.from({ length: options.businessAccountCount }, () => ({
    id: business.id(),
    centreHour: business.uniform(8, 17),
    hourSd: business.uniform(1, 2),
    counterparties: Array.from({ length: 8 + Math.floor(business.random() * 18) }, business.id),
    newCounterpartyRate: business.uniform(0.005, 0.03),
    logMedianAmount: business.uniform(Math.log(2_000), Math.log(100_000)),
    amountSigma: business.uniform(0.4, 0.7),
    transfersPerDay: business.uniform(1, 3),
    runsPerDay: business.uniform(0.5, 2),
  }));
  const businessPayee = (behaviour: Behaviour): string =>
    business.random() < behaviour.newCounterpartyRate ? business.id() : regular(behaviour, business.random);
  for (const behaviour of businesses) {
    for (let day = 0; day < totalDays; day += 1) {
      const hour = () => behaviour.centreHour + behaviour.hourSd * business.normal();
      for (let count = business.poisson(behaviour.transfersPerDay); count > 0; count -= 1) {
        addFrom(
          business,
          behaviour,
          businessPayee(behaviour),
          business.amountOf(behaviour),
          timeOnDay(day, hour()),
        );
      }
      // A payment run: 10 to 40 transfers, 3 to 12 seconds apart, mostly to usual counterparties.
      for (let runs = business.poisson(behaviour.runsPerDay); runs > 0; runs -= 1) {
        let at = timeOnDay(day, hour());
        for (let count = 10 + Math.floor(business.random() * 31); count > 0; count -= 1) {
          addFrom(business, behaviour, businessPayee(behaviour), business.amountOf(behaviour), at);
          at += business.uniform(3, 12) * 1000;
        }
      }
    }
  }
  // A fan-out hidden in a payment run: 30 transfers to usual counterparties over about four
  // minutes, and 8 to new payees at moments within it. Only the 8 are the anomaly; the run is the
  // account's normal business, and nothing around it pauses.
  for (let index = 0; index < (businesses.length === 0 ? 0 : options.casesPerKind); index += 1) {
    const behaviour = business.pick(businesses);
    const day = options.warmUpDays + Math.floor(business.random() * options.evaluationDays);
    const startAtMs = timeOnDay(day, behaviour.centreHour + behaviour.hourSd * 0.5 * business.normal());
    let at = startAtMs;
    for (let step = 0; step < 30; step += 1) {
      addFrom(business, behaviour, regular(behaviour, business.random), business.amountOf(behaviour), at);
      at += business.uniform(6, 10) * 1000;
    }
    for (let step = 0; step < 8; step += 1) {
      const payee = business.id();
      const amount = business.amountOf(behaviour, business.uniform(0.5, 1.5));
      addFrom(business, behaviour, payee, amount, business.uniform(startAtMs, at), 'business_fan_out');
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

/** One of the account's usual counterparties. */
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
