import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  amountMax,
  type CurrencyCode,
  currencyExponent,
  formatMajorUnits,
  formatMinorUnits,
  parseCurrency,
  parseMajorUnits,
  parseMinorUnits,
} from '../../shared/domain/money';

function currency(code: string): CurrencyCode {
  const parsed = parseCurrency(code);
  if (parsed === undefined) throw new Error(`test fixture: unknown currency ${code}`);
  return parsed;
}

const usd = currency('USD');
const jpy = currency('JPY');
const kwd = currency('KWD');

describe('parseCurrency', () => {
  it.each([
    ['USD', 2],
    ['EUR', 2],
    ['GBP', 2],
    ['JPY', 0],
    ['KRW', 0],
    ['XOF', 0],
    ['KWD', 3],
    ['BHD', 3],
    ['TND', 3],
    ['CLF', 4],
    ['UYW', 4],
  ])('knows that %s has exponent %i', (code, exponent) => {
    const parsed = parseCurrency(code);

    expect(parsed).toBe(code);
    expect(currencyExponent(currency(code))).toBe(exponent);
  });

  it.each([
    ['a lower-case code', 'usd'],
    ['a mixed-case code', 'Usd'],
    ['a two-letter code', 'US'],
    ['a four-letter code', 'USDT'],
    ['a code with surrounding whitespace', ' USD'],
    ['a code with a trailing newline', 'USD\n'],
    ['an unknown code', 'ABC'],
    ['a metal without a minor unit', 'XAU'],
    ['a withdrawn code', 'DEM'],
    ['an empty string', ''],
    ['a number', 840],
    ['undefined', undefined],
    ['null', null],
    ['an object', { code: 'USD' }],
  ])('rejects %s', (_description, value) => {
    expect(parseCurrency(value)).toBeUndefined();
  });
});

describe('parseMinorUnits', () => {
  it.each([
    ['0', 0n],
    ['1', 1n],
    ['1050', 1050n],
    ['9007199254740993', 9007199254740993n],
    ['9223372036854775807', amountMax],
  ])('accepts %j', (value, amount) => {
    expect(parseMinorUnits(value)).toBe(amount);
  });

  it('accepts 2^63-1, the largest Postgres bigint', () => {
    expect(parseMinorUnits((2n ** 63n - 1n).toString())).toBe(amountMax);
  });

  it('rejects 2^63, one past the largest Postgres bigint', () => {
    expect(parseMinorUnits((2n ** 63n).toString())).toBeUndefined();
  });

  it.each([
    ['a number', 100],
    ['a bigint', 100n],
    ['a float amount', 10.5],
    ['a float amount in a string', '10.5'],
    ['an amount with a trailing dot', '10.'],
    ['an exponent', '1e3'],
    ['a negative amount', '-1'],
    ['a negative zero', '-0'],
    ['an explicit plus sign', '+1'],
    ['a leading space', ' 1'],
    ['a trailing space', '1 '],
    ['a trailing newline', '1\n'],
    ['a leading zero', '01'],
    ['a doubled zero', '00'],
    ['a hexadecimal amount', '0x10'],
    ['a binary amount', '0b1'],
    ['underscores', '1_000'],
    ['thousands separators', '1,000'],
    ['non-ASCII digits', '١٢'],
    ['full-width digits', '１２'],
    ['an empty string', ''],
    ['twenty digits', '10000000000000000000'],
    ['a long run of digits', '9'.repeat(1000)],
    ['Infinity', 'Infinity'],
    ['NaN', 'NaN'],
    ['null', null],
    ['undefined', undefined],
    ['an array', ['1']],
  ])('rejects %s', (_description, value) => {
    expect(parseMinorUnits(value)).toBeUndefined();
  });
});

describe('formatMinorUnits', () => {
  it.each([
    [0n, '0'],
    [1050n, '1050'],
    [amountMax, '9223372036854775807'],
  ])('writes %s as %j', (amount, text) => {
    expect(formatMinorUnits(amount)).toBe(text);
  });

  it('throws for a negative amount', () => {
    expect(() => formatMinorUnits(-1n)).toThrow(/assertion failed/);
  });

  it('throws for an amount past amountMax', () => {
    expect(() => formatMinorUnits(amountMax + 1n)).toThrow(/assertion failed/);
  });

  it('round-trips any amount in [0, amountMax] through parseMinorUnits', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: amountMax }), (amount) => {
        expect(parseMinorUnits(formatMinorUnits(amount))).toBe(amount);
      }),
      { seed: 42 },
    );
  });
});

describe('parseMajorUnits', () => {
  it.each([
    ['10.50', 'USD', 1050n],
    ['10', 'USD', 1000n],
    ['10.5', 'USD', 1050n],
    ['0.05', 'USD', 5n],
    ['0', 'USD', 0n],
    ['0.00', 'USD', 0n],
    ['1', 'JPY', 1n],
    ['0', 'JPY', 0n],
    ['1.234', 'KWD', 1234n],
    ['0.001', 'KWD', 1n],
    ['1.2345', 'CLF', 12345n],
    ['92233720368547758.07', 'USD', amountMax],
    ['9223372036854775807', 'JPY', amountMax],
  ])('reads %j %s as %s minor units', (value, code, amount) => {
    expect(parseMajorUnits(value, currency(code))).toBe(amount);
  });

  it.each([
    ['more fraction digits than the exponent', '10.505', 'USD'],
    ['more fraction digits than the exponent of a 3-digit currency', '1.0000', 'KWD'],
    ['a fraction for a currency without minor units', '1.0', 'JPY'],
    ['a dot for a currency without minor units', '1.', 'JPY'],
    ['an empty fraction', '10.', 'USD'],
    ['an empty whole part', '.5', 'USD'],
    ['a lone dot', '.', 'USD'],
    ['two dots', '1.2.3', 'USD'],
    ['a negative amount', '-1.00', 'USD'],
    ['an explicit plus sign', '+1.00', 'USD'],
    ['an exponent', '1e3', 'USD'],
    ['an exponent in the fraction', '1.0e1', 'USD'],
    ['a leading space', ' 1.00', 'USD'],
    ['a trailing space', '1.00 ', 'USD'],
    ['a space after the dot', '1. 5', 'USD'],
    ['a leading zero', '01.00', 'USD'],
    ['a comma as decimal separator', '1,50', 'USD'],
    ['non-ASCII digits', '١.٥', 'USD'],
    ['an empty string', '', 'USD'],
    ['an amount one minor unit past amountMax', '92233720368547758.08', 'USD'],
    ['an amount past amountMax without minor units', '9223372036854775808', 'JPY'],
    ['a whole part too large for any currency', '9'.repeat(40), 'JPY'],
  ])('rejects %s (%j %s)', (_description, value, code) => {
    expect(parseMajorUnits(value, currency(code))).toBeUndefined();
  });
});

describe('formatMajorUnits', () => {
  it.each([
    [1050n, 'USD', '10.50'],
    [1000n, 'USD', '10.00'],
    [5n, 'USD', '0.05'],
    [0n, 'USD', '0.00'],
    [7n, 'JPY', '7'],
    [0n, 'JPY', '0'],
    [1n, 'KWD', '0.001'],
    [1234n, 'KWD', '1.234'],
    [1n, 'CLF', '0.0001'],
    [amountMax, 'USD', '92233720368547758.07'],
  ])('writes %s minor units of %s as %j', (amount, code, text) => {
    expect(formatMajorUnits(amount, currency(code))).toBe(text);
  });

  it('throws for a negative amount', () => {
    expect(() => formatMajorUnits(-1n, usd)).toThrow(/assertion failed/);
  });

  it('throws for an amount past amountMax', () => {
    expect(() => formatMajorUnits(amountMax + 1n, usd)).toThrow(/assertion failed/);
  });

  it.each([
    ['USD', usd],
    ['JPY', jpy],
    ['KWD', kwd],
  ])('round-trips any amount in [0, amountMax] of %s through parseMajorUnits', (_code, code) => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: amountMax }), (amount) => {
        expect(parseMajorUnits(formatMajorUnits(amount, code), code)).toBe(amount);
      }),
      { seed: 42 },
    );
  });
});
