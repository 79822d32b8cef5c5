/**
 * Money is a `bigint` count of minor units plus the currency's exponent. Amounts never pass through
 * `number`, so no value above 2^53 loses precision and no binary fraction rounds a cent away.
 */

export type CurrencyCode = string & { readonly __brand: 'CurrencyCode' };

/** The largest amount the ledger stores: the maximum of a Postgres `bigint` column, 2^63 - 1. */
export const amountMax = 9223372036854775807n;

/** The digits of `amountMax`; a longer string can never fit, so it is rejected before `BigInt` runs. */
const amountDigitsMax = 19;

/**
 * ISO 4217 currency codes (list one) and their exponent: the number of minor-unit digits.
 * Codes whose minor unit is "N.A." in the standard (precious metals XAU, XAG, XPT, XPD, the
 * drawing right XDR, the units XSU, XUA, and the test and no-currency codes XTS, XXX) have no
 * exponent, so they are left out and cannot be booked. ANG, SLL and CUC are kept while balances
 * in them may still be settled, although ISO has replaced or is withdrawing them.
 */
const currencyExponents: ReadonlyMap<string, number> = new Map(
  Object.entries({
    AED: 2,
    AFN: 2,
    ALL: 2,
    AMD: 2,
    ANG: 2,
    AOA: 2,
    ARS: 2,
    AUD: 2,
    AWG: 2,
    AZN: 2,
    BAM: 2,
    BBD: 2,
    BDT: 2,
    BGN: 2,
    BHD: 3,
    BIF: 0,
    BMD: 2,
    BND: 2,
    BOB: 2,
    BOV: 2,
    BRL: 2,
    BSD: 2,
    BTN: 2,
    BWP: 2,
    BYN: 2,
    BZD: 2,
    CAD: 2,
    CDF: 2,
    CHE: 2,
    CHF: 2,
    CHW: 2,
    CLF: 4,
    CLP: 0,
    CNY: 2,
    COP: 2,
    COU: 2,
    CRC: 2,
    CUC: 2,
    CUP: 2,
    CVE: 2,
    CZK: 2,
    DJF: 0,
    DKK: 2,
    DOP: 2,
    DZD: 2,
    EGP: 2,
    ERN: 2,
    ETB: 2,
    EUR: 2,
    FJD: 2,
    FKP: 2,
    GBP: 2,
    GEL: 2,
    GHS: 2,
    GIP: 2,
    GMD: 2,
    GNF: 0,
    GTQ: 2,
    GYD: 2,
    HKD: 2,
    HNL: 2,
    HTG: 2,
    HUF: 2,
    IDR: 2,
    ILS: 2,
    INR: 2,
    IQD: 3,
    IRR: 2,
    ISK: 0,
    JMD: 2,
    JOD: 3,
    JPY: 0,
    KES: 2,
    KGS: 2,
    KHR: 2,
    KMF: 0,
    KPW: 2,
    KRW: 0,
    KWD: 3,
    KYD: 2,
    KZT: 2,
    LAK: 2,
    LBP: 2,
    LKR: 2,
    LRD: 2,
    LSL: 2,
    LYD: 3,
    MAD: 2,
    MDL: 2,
    MGA: 2,
    MKD: 2,
    MMK: 2,
    MNT: 2,
    MOP: 2,
    MRU: 2,
    MUR: 2,
    MVR: 2,
    MWK: 2,
    MXN: 2,
    MXV: 2,
    MYR: 2,
    MZN: 2,
    NAD: 2,
    NGN: 2,
    NIO: 2,
    NOK: 2,
    NPR: 2,
    NZD: 2,
    OMR: 3,
    PAB: 2,
    PEN: 2,
    PGK: 2,
    PHP: 2,
    PKR: 2,
    PLN: 2,
    PYG: 0,
    QAR: 2,
    RON: 2,
    RSD: 2,
    RUB: 2,
    RWF: 0,
    SAR: 2,
    SBD: 2,
    SCR: 2,
    SDG: 2,
    SEK: 2,
    SGD: 2,
    SHP: 2,
    SLE: 2,
    SLL: 2,
    SOS: 2,
    SRD: 2,
    SSP: 2,
    STN: 2,
    SVC: 2,
    SYP: 2,
    SZL: 2,
    THB: 2,
    TJS: 2,
    TMT: 2,
    TND: 3,
    TOP: 2,
    TRY: 2,
    TTD: 2,
    TWD: 2,
    TZS: 2,
    UAH: 2,
    UGX: 0,
    USD: 2,
    USN: 2,
    UYI: 0,
    UYU: 2,
    UYW: 4,
    UZS: 2,
    VED: 2,
    VES: 2,
    VND: 0,
    VUV: 0,
    WST: 2,
    XAF: 0,
    XCD: 2,
    XCG: 2,
    XOF: 0,
    XPF: 0,
    YER: 2,
    ZAR: 2,
    ZMW: 2,
    ZWG: 2,
  }),
);

const currencyPattern = /^[A-Z]{3}$/;
const minorUnitsPattern = /^(?:0|[1-9][0-9]*)$/;
const fractionPattern = /^[0-9]+$/;

/**
 * Accepts a currency only if the ledger knows its exponent, so every amount it is booked with can be
 * read and written in major units without guessing.
 */
export function parseCurrency(value: unknown): CurrencyCode | undefined {
  if (typeof value !== 'string' || !currencyPattern.test(value)) return undefined;
  if (!currencyExponents.has(value)) return undefined;
  return value as CurrencyCode;
}

/** Returns the number of minor-unit digits, which turns minor units into major units and back. */
export function currencyExponent(code: CurrencyCode): number {
  const exponent = currencyExponents.get(code);
  assert(exponent !== undefined, `currency ${code} has no exponent`);
  return exponent;
}

/**
 * Reads an amount in minor units from JSON. Only a canonical string of ASCII digits is accepted,
 * because a JSON number above 2^53 has already lost precision by the time it is parsed, and any
 * other spelling ('01', '1e3', '+1') would let two requests for the same amount look different.
 */
export function parseMinorUnits(value: unknown): bigint | undefined {
  if (typeof value !== 'string') return undefined;
  if (value.length > amountDigitsMax || !minorUnitsPattern.test(value)) return undefined;
  const amount = BigInt(value);
  return amount <= amountMax ? amount : undefined;
}

/** Writes an amount in minor units as the decimal string that `parseMinorUnits` reads back. */
export function formatMinorUnits(amount: bigint): string {
  assertAmountInRange(amount);
  return amount.toString();
}

/**
 * Writes a signed quantity of minor units (a balance: credits less debits, which may be negative)
 * as a decimal string with a leading minus when below zero. A balance is a difference of at most
 * three totals of at most `amountMax` each, so it is bounded by twice that either way.
 */
export function formatSignedMinorUnits(value: bigint): string {
  if (value > 2n * amountMax || value < -2n * amountMax) {
    throw new RangeError(`a balance is within twice 2^63-1 either way, got ${value}`);
  }
  return value.toString();
}

/**
 * Reads an amount in major units ("10.50" USD is 1050n). A fraction with more digits than the
 * currency has is rejected rather than rounded, because rounding would silently move money.
 */
export function parseMajorUnits(value: string, currency: CurrencyCode): bigint | undefined {
  if (typeof value !== 'string') return undefined;
  const exponent = currencyExponent(currency);
  const [whole, fraction, ...rest] = value.split('.');
  if (whole === undefined || rest.length > 0) return undefined;
  if (whole.length > amountDigitsMax || !minorUnitsPattern.test(whole)) return undefined;
  if (fraction !== undefined) {
    if (fraction.length > exponent || !fractionPattern.test(fraction)) return undefined;
  }
  const fractionMinorUnits = exponent === 0 ? 0n : BigInt((fraction ?? '').padEnd(exponent, '0'));
  const amount = BigInt(whole) * 10n ** BigInt(exponent) + fractionMinorUnits;
  return amount <= amountMax ? amount : undefined;
}

/**
 * Writes an amount in major units with exactly the currency's number of fraction digits
 * (1050n USD is "10.50", 7n JPY is "7"), for people to read; `parseMajorUnits` reads it back.
 */
export function formatMajorUnits(amount: bigint, currency: CurrencyCode): string {
  assertAmountInRange(amount);
  const exponent = currencyExponent(currency);
  if (exponent === 0) return amount.toString();
  const digits = amount.toString().padStart(exponent + 1, '0');
  return `${digits.slice(0, -exponent)}.${digits.slice(-exponent)}`;
}

function assertAmountInRange(amount: bigint): void {
  assert(typeof amount === 'bigint', 'amount must be a bigint');
  assert(amount >= 0n && amount <= amountMax, `amount ${amount} must be in [0, amountMax]`);
}

function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`assertion failed: ${message}`);
}
