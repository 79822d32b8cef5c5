/**
 * The fraud model, pure: the features of a posted transfer, the debit account's learned profile
 * (running means and variances, updated one observation at a time with Welford's method), the
 * score and its reasons, and the patterns seen over a window of transfers. The scorer Lambda, the
 * pattern listener and the evaluation all call these same functions; only the stores differ.
 *
 * Features and profiles are `number`: they are statistics of amounts (logarithms, decayed sums),
 * never amounts. The amount itself stays a bigint; `logMinorUnits` takes its logarithm without
 * ever holding the whole amount in a float.
 */

/** Every reason a verdict may give, the scorer's and the pattern listener's. */
export const fraudReasons = [
  'amount_unusual',
  'velocity_unusual',
  'unusual_hour',
  'new_counterparty',
  'burst',
  'fan_out',
  'structuring',
] as const;
export type FraudReason = (typeof fraudReasons)[number];

export function parseFraudReason(value: string): FraudReason | undefined {
  return fraudReasons.find((reason) => reason === value);
}

/** What a client sees of a transfer's fraud check. */
export type FraudStatus = 'pending' | 'clear' | 'flagged';

/** The knobs of the model, all with units in their names; `shared/settings.ts` reads them. */
export interface FraudSettings {
  /** A transfer whose score (0 to 1) reaches this is flagged. */
  readonly threshold: number;
  /** Below this many observations an account is in cold start: only the rules below judge it. */
  readonly coldStartObservationCountMin: number;
  /** Cold start: a transfer above this many minor units is `amount_unusual`. */
  readonly coldStartAmountMax: bigint;
  /** How far (in standard deviations) a feature may stray before it counts as evidence. */
  readonly deviationZ: number;
  /** Half-life of the recent-volume feature (amount against recent velocity). */
  readonly velocityHalfLifeS: number;
  /** Half-life of the recent-count feature the `burst` reason reads. */
  readonly burstHalfLifeS: number;
  /** Pattern listener: the window in which new counterparties are counted. */
  readonly fanOutWindowS: number;
  /**
   * Pattern listener: this many counterparties new to the account within the window (first paid
   * inside it) is a fan-out. Counterparties it paid before the window do not count.
   */
  readonly fanOutNewCounterpartyCountMin: number;
  /** Pattern listener: the limit structuring stays under, in minor units. */
  readonly structuringLimit: bigint;
  /** Pattern listener: an amount within this many percent below the limit is "just under" it. */
  readonly structuringBandPercent: number;
  /** Pattern listener: the window in which just-under amounts are counted. */
  readonly structuringWindowS: number;
  /** Pattern listener: this many just-under amounts within the window is structuring. */
  readonly structuringCountMin: number;
}

export const defaultFraudSettings: FraudSettings = {
  threshold: 0.7,
  coldStartObservationCountMin: 10,
  coldStartAmountMax: 1_000_000n,
  deviationZ: 3.5,
  velocityHalfLifeS: 24 * 3600,
  burstHalfLifeS: 600,
  fanOutWindowS: 600,
  fanOutNewCounterpartyCountMin: 5,
  structuringLimit: 1_000_000n,
  structuringBandPercent: 5,
  structuringWindowS: 24 * 3600,
  structuringCountMin: 3,
};

/** The longest fan-out window: the listener reads the whole window back at every transfer. */
export const fanOutWindowSMax = 24 * 3600;

// ---------------------------------------------------------------------------------------------
// Running statistics

/** Welford's running mean and sum of squared deviations. */
export interface RunningStat {
  readonly count: number;
  readonly mean: number;
  readonly m2: number;
}

export const emptyStat: RunningStat = { count: 0, mean: 0, m2: 0 };

export function addObservation(stat: RunningStat, x: number): RunningStat {
  const count = stat.count + 1;
  const delta = x - stat.mean;
  const mean = stat.mean + delta / count;
  return { count, mean, m2: stat.m2 + delta * (x - mean) };
}

/** The sample standard deviation, never below `floor` (few or identical observations say little). */
export function deviation(stat: RunningStat, floor: number): number {
  if (stat.count < 2) return floor;
  return Math.max(floor, Math.sqrt(stat.m2 / (stat.count - 1)));
}

// ---------------------------------------------------------------------------------------------
// Features

/**
 * The natural logarithm of a positive amount of minor units, without converting the amount to a
 * float: the first 15 digits are exact in a double, the rest only shift the decimal exponent.
 */
export function logMinorUnits(amount: bigint): number {
  if (amount <= 0n) throw new RangeError('the logarithm needs a positive amount');
  const digits = amount.toString();
  const head = digits.slice(0, 15);
  return Math.log(Number.parseInt(head, 10)) + (digits.length - head.length) * Math.LN10;
}

/** A posted transfer as the model sees it. */
export interface ScoredTransfer {
  readonly transferId: string;
  readonly debitAccountId: string;
  readonly creditAccountId: string;
  readonly amount: bigint;
  /** When it was posted (ISO 8601); the clock every time feature reads. */
  readonly postedAt: string;
}

/**
 * The debit account's learned behaviour. `stats` hold one running statistic per feature; the
 * decayed sums are as of `lastTransferAt`.
 */
export interface FraudProfile {
  readonly observationCount: number;
  readonly lastTransferAt: string | null;
  /** Distinct counterparties seen so far (each was new once). */
  readonly counterpartyCount: number;
  /** Amounts debited recently, decayed with `velocityHalfLifeS` (a statistic, in minor units). */
  readonly recentVolume: number;
  /** Transfers debited recently, decayed with `burstHalfLifeS`. */
  readonly recentCount: number;
  readonly stats: {
    readonly logAmount: RunningStat;
    readonly hourSin: RunningStat;
    readonly hourCos: RunningStat;
    readonly logGapS: RunningStat;
    readonly velocityRatio: RunningStat;
    readonly recentCount: RunningStat;
  };
}

export const emptyProfile: FraudProfile = {
  observationCount: 0,
  lastTransferAt: null,
  counterpartyCount: 0,
  recentVolume: 0,
  recentCount: 0,
  stats: {
    logAmount: emptyStat,
    hourSin: emptyStat,
    hourCos: emptyStat,
    logGapS: emptyStat,
    velocityRatio: emptyStat,
    recentCount: emptyStat,
  },
};

/** The feature vector of one transfer against its account's profile. */
export interface Features {
  readonly logAmount: number;
  /** Time of day (UTC) on the unit circle, so 23:30 and 00:30 are close. */
  readonly hourSin: number;
  readonly hourCos: number;
  /**
   * How new the counterparty is to the account: 1 / (1 + earlier transfers to it), so 1 for a
   * first payment, 1/2 for the second, and near 0 for a regular payee.
   */
  readonly counterpartyNovelty: number;
  /** log(1 + seconds since the account's previous transfer); 0 for the first. */
  readonly logGapS: number;
  /** log amount against log(1 + recent volume): how large it is next to recent spending. */
  readonly velocityRatio: number;
  /** Transfers within about `burstHalfLifeS`, this one included (decayed). */
  readonly recentCount: number;
}

const dayMs = 24 * 3600 * 1000;
/** How many deviations from the mean a warm profile learns an observation at most. */
const learnClipZ = 3;

function decay(value: number, elapsedMs: number, halfLifeS: number): number {
  return value * 2 ** -(Math.max(0, elapsedMs) / (halfLifeS * 1000));
}

export function features(
  transfer: ScoredTransfer,
  profile: FraudProfile,
  counterpartyTransferCount: number,
  settings: FraudSettings,
): Features {
  const at = Date.parse(transfer.postedAt);
  const dayFraction = (((at % dayMs) + dayMs) % dayMs) / dayMs;
  const angle = 2 * Math.PI * dayFraction;
  const elapsedMs = profile.lastTransferAt === null ? 0 : at - Date.parse(profile.lastTransferAt);
  const logAmount = logMinorUnits(transfer.amount);
  const recentVolume = decay(profile.recentVolume, elapsedMs, settings.velocityHalfLifeS);
  return {
    logAmount,
    hourSin: Math.sin(angle),
    hourCos: Math.cos(angle),
    counterpartyNovelty: 1 / (1 + counterpartyTransferCount),
    logGapS: profile.lastTransferAt === null ? 0 : Math.log1p(Math.max(0, elapsedMs) / 1000),
    velocityRatio: logAmount - Math.log1p(recentVolume),
    recentCount: decay(profile.recentCount, elapsedMs, settings.burstHalfLifeS) + 1,
  };
}

/** The profile after one more observation. */
export function updateProfile(
  profile: FraudProfile,
  transfer: ScoredTransfer,
  observed: Features,
  settings: FraudSettings,
): FraudProfile {
  const elapsedMs =
    profile.lastTransferAt === null ? 0 : Date.parse(transfer.postedAt) - Date.parse(profile.lastTransferAt);
  const later =
    profile.lastTransferAt === null || Date.parse(transfer.postedAt) >= Date.parse(profile.lastTransferAt);
  const { stats } = profile;
  // A warm profile learns an outlier clipped to a few deviations, so one fraud does not teach it
  // that fraud is normal; a real change of behaviour still moves it, a step at a time.
  const warm = profile.observationCount >= settings.coldStartObservationCountMin;
  const learned = (stat: RunningStat, x: number, floor: number): RunningStat => {
    if (!warm) return addObservation(stat, x);
    const reach = learnClipZ * deviation(stat, floor);
    return addObservation(stat, Math.min(stat.mean + reach, Math.max(stat.mean - reach, x)));
  };
  return {
    observationCount: profile.observationCount + 1,
    // An event that arrives late does not move the clock back.
    lastTransferAt: later ? transfer.postedAt : profile.lastTransferAt,
    counterpartyCount: profile.counterpartyCount + (observed.counterpartyNovelty === 1 ? 1 : 0),
    recentVolume: later
      ? decay(profile.recentVolume, elapsedMs, settings.velocityHalfLifeS) + Math.exp(observed.logAmount)
      : profile.recentVolume,
    recentCount: later ? observed.recentCount : profile.recentCount,
    stats: {
      logAmount: learned(stats.logAmount, observed.logAmount, deviationFloor.logAmount),
      hourSin: addObservation(stats.hourSin, observed.hourSin),
      hourCos: addObservation(stats.hourCos, observed.hourCos),
      logGapS:
        profile.lastTransferAt === null ? stats.logGapS : addObservation(stats.logGapS, observed.logGapS),
      velocityRatio:
        profile.lastTransferAt === null
          ? stats.velocityRatio
          : learned(stats.velocityRatio, observed.velocityRatio, deviationFloor.velocityRatio),
      recentCount: learned(stats.recentCount, observed.recentCount, deviationFloor.recentCount),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Scoring

/** A verdict of the scorer: a score from 0 to 1 and the reasons that carried it. */
export interface Assessment {
  readonly score: number;
  readonly reasons: readonly FraudReason[];
  readonly flagged: boolean;
}

/** Evidence below this much does not name its reason. */
const reasonEvidenceMin = 0.25;
/** How far apart a feature's z must be from `deviationZ` to move its evidence from 12 % to 88 %. */
const evidenceSteepness = 2;
/** The most each reason can add on its own: only the amount can flag a transfer alone. */
const evidenceCap: Readonly<Record<FraudReason, number>> = {
  amount_unusual: 0.98,
  velocity_unusual: 0.6,
  unusual_hour: 0.65,
  new_counterparty: 0.5,
  burst: 0.6,
  fan_out: 1,
  structuring: 1,
};
/** Floors on the standard deviations, in each feature's unit, so a very regular account is not brittle. */
const deviationFloor = { logAmount: 0.2, logGapS: 0.5, velocityRatio: 0.3, recentCount: 0.5 };
/** One hour on the circle, the least spread an hour profile is given. */
const hourDeviationFloorRad = (2 * Math.PI) / 24;
/** A mean resultant length below this means no daily rhythm: the hour is not judged. */
const hourRhythmMin = 0.3;

function logistic(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

function evidence(reason: FraudReason, z: number, settings: FraudSettings): number {
  return evidenceCap[reason] * logistic(evidenceSteepness * (z - settings.deviationZ));
}

/** How many standard deviations the hour lies from the account's circular mean hour. */
function hourDeviation(observed: Features, profile: FraudProfile): number | undefined {
  const sin = profile.stats.hourSin.mean;
  const cos = profile.stats.hourCos.mean;
  const resultant = Math.hypot(sin, cos);
  if (resultant < hourRhythmMin) return undefined;
  const spread = Math.max(hourDeviationFloorRad, Math.sqrt(-2 * Math.log(Math.min(resultant, 1 - 1e-9))));
  const meanAngle = Math.atan2(sin, cos);
  const angle = Math.atan2(observed.hourSin, observed.hourCos);
  const distance = Math.acos(Math.max(-1, Math.min(1, Math.cos(angle - meanAngle))));
  return distance / spread;
}

/**
 * Scores a transfer against the profile as it was before it. Each feature that strays gives
 * evidence between 0 and its cap; the score is 1 − Π(1 − evidence), so independent clues add up
 * (an odd hour and a new counterparty together flag, either alone does not), and it is rounded to
 * three decimals.
 */
export function assess(
  transfer: ScoredTransfer,
  profile: FraudProfile,
  observed: Features,
  settings: FraudSettings,
): Assessment {
  const found = new Map<FraudReason, number>();
  if (profile.observationCount < settings.coldStartObservationCountMin) {
    // Cold start: too few observations for a profile; a fixed rule on the amount alone.
    if (transfer.amount > settings.coldStartAmountMax) found.set('amount_unusual', 0.95);
  } else {
    const { stats } = profile;
    const zAmount =
      (observed.logAmount - stats.logAmount.mean) / deviation(stats.logAmount, deviationFloor.logAmount);
    found.set('amount_unusual', evidence('amount_unusual', zAmount, settings));
    if (stats.velocityRatio.count >= 2) {
      const zVelocity =
        (observed.velocityRatio - stats.velocityRatio.mean) /
        deviation(stats.velocityRatio, deviationFloor.velocityRatio);
      found.set('velocity_unusual', evidence('velocity_unusual', zVelocity, settings));
    }
    const zHour = hourDeviation(observed, profile);
    if (zHour !== undefined) found.set('unusual_hour', evidence('unusual_hour', zHour, settings));
    // Weighed by how often the account pays someone new: for one that always does, it says nothing.
    const noveltyRate = profile.counterpartyCount / profile.observationCount;
    found.set(
      'new_counterparty',
      evidenceCap.new_counterparty * observed.counterpartyNovelty * (1 - noveltyRate),
    );
    if (observed.recentCount >= 3) {
      const zCount =
        (observed.recentCount - stats.recentCount.mean) /
        deviation(stats.recentCount, deviationFloor.recentCount);
      found.set('burst', evidence('burst', zCount, settings));
    }
  }
  return combine(found, settings);
}

/** Combines evidence per reason into a score, the reasons worth naming and the verdict. */
export function combine(found: ReadonlyMap<FraudReason, number>, settings: FraudSettings): Assessment {
  let clear = 1;
  const reasons: FraudReason[] = [];
  for (const reason of fraudReasons) {
    const weight = found.get(reason) ?? 0;
    clear *= 1 - weight;
    if (weight >= reasonEvidenceMin) reasons.push(reason);
  }
  const score = Math.round((1 - clear) * 1000) / 1000;
  return { score, reasons, flagged: score >= settings.threshold };
}

// ---------------------------------------------------------------------------------------------
// Patterns over time

/** A posted transfer the pattern listener keeps, per debit account. */
export interface WindowTransfer {
  readonly transferId: string;
  readonly creditAccountId: string;
  readonly amount: bigint;
  readonly postedAt: string;
}

/**
 * When the account first paid each counterparty, as far as the pattern listener knows (ISO 8601),
 * keyed by the counterparty's account id. It holds at least the counterparties of the window.
 */
export type FirstPaidAt = ReadonlyMap<string, string>;

/** A pattern found, and the transfers that make it up (all of them get the reason). */
export interface PatternFinding {
  readonly reason: 'fan_out' | 'structuring';
  readonly transferIds: readonly string[];
}

/** The longest window the pattern listener reads back, so the store knows what to fetch. */
export function patternWindowS(settings: FraudSettings): number {
  return Math.max(settings.fanOutWindowS, settings.structuringWindowS);
}

/**
 * Looks for patterns ending at `current` among the account's transfers posted in the window
 * before it (and `current` itself, which `recent` holds): payments to many counterparties new to
 * the account in a short window (fan-out), and several amounts each just under the structuring
 * limit.
 *
 * A counterparty is new in the fan-out window when the account first paid it inside the window
 * (`firstPaidAt`); a fan-out names only the transfers to new counterparties. Payments to
 * counterparties the account paid before, however many and however fast, neither make a fan-out
 * nor are part of one: a shop paying its usual suppliers forty times in a few minutes is its
 * ordinary business, while money spread over many payees it never paid is how a taken-over or
 * mule account empties itself.
 */
export function detectPatterns(
  current: WindowTransfer,
  recent: readonly WindowTransfer[],
  firstPaidAt: FirstPaidAt,
  settings: FraudSettings,
): PatternFinding[] {
  const at = Date.parse(current.postedAt);
  const within = (transfer: WindowTransfer, windowS: number): boolean => {
    const posted = Date.parse(transfer.postedAt);
    return posted <= at && posted > at - windowS * 1000;
  };
  const findings: PatternFinding[] = [];

  const fanOutStart = at - settings.fanOutWindowS * 1000;
  const isNew = (counterpartyId: string): boolean => {
    const first = firstPaidAt.get(counterpartyId);
    // The listener records a counterparty before it detects, so one missing is a bug in the store.
    if (first === undefined) throw new Error(`assertion failed: when ${counterpartyId} was first paid`);
    return Date.parse(first) > fanOutStart;
  };
  const toNew = recent.filter(
    (transfer) => within(transfer, settings.fanOutWindowS) && isNew(transfer.creditAccountId),
  );
  const newCounterparties = new Set(toNew.map((transfer) => transfer.creditAccountId));
  if (newCounterparties.size >= settings.fanOutNewCounterpartyCountMin) {
    findings.push({ reason: 'fan_out', transferIds: toNew.map((transfer) => transfer.transferId) });
  }

  // Just under: limit × (100 − band) / 100 ≤ amount < limit, in bigint arithmetic.
  const bandBasisPoints = BigInt(Math.round(settings.structuringBandPercent * 100));
  const lower = (settings.structuringLimit * (10_000n - bandBasisPoints) + 9_999n) / 10_000n;
  const justUnder = (transfer: WindowTransfer): boolean =>
    transfer.amount >= lower && transfer.amount < settings.structuringLimit;
  if (justUnder(current)) {
    const structured = recent.filter(
      (transfer) => within(transfer, settings.structuringWindowS) && justUnder(transfer),
    );
    if (structured.length >= settings.structuringCountMin) {
      findings.push({
        reason: 'structuring',
        transferIds: structured.map((transfer) => transfer.transferId),
      });
    }
  }
  return findings;
}

/**
 * One step of the scorer: the transfer's features against the profile as it was, the assessment,
 * and the profile with the transfer learned (fraud included: the model learns what it sees).
 */
export function scoreAgainstProfile(
  transfer: ScoredTransfer,
  profile: FraudProfile,
  counterpartyTransferCount: number,
  settings: FraudSettings,
): { readonly assessment: Assessment; readonly profile: FraudProfile } {
  const observed = features(transfer, profile, counterpartyTransferCount, settings);
  return {
    assessment: assess(transfer, profile, observed, settings),
    profile: updateProfile(profile, transfer, observed, settings),
  };
}
