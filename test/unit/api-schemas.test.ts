import { describe, expect, it } from 'vitest';
import {
  amountSchema,
  createAccountBodySchema,
  decodeEntryCursor,
  encodeEntryCursor,
  entriesQuerySchema,
  idempotencyKeySchema,
  submitTransferBodySchema,
} from '../../shared/api/schemas';
import { amountMax } from '../../shared/domain/money';
import { problemFromZodError } from '../../shared/handlers/validation';

const validTransfer = {
  debit_account_id: '0192f6a4-1d2e-4c3b-8a9f-0123456789ab',
  credit_account_id: '0192f6a4-1d2e-4c3b-8a9f-0123456789ac',
  amount: '1050',
  currency: 'USD',
};

/** The field a 400 would name for this body, or undefined when the body is valid. */
function refusedField(
  schema: typeof submitTransferBodySchema | typeof createAccountBodySchema,
  body: unknown,
) {
  const result = schema.safeParse(body);
  return result.success ? undefined : (problemFromZodError(result.error).field ?? '(none)');
}

describe('amounts', () => {
  it('reads a decimal string of minor units into a bigint, exactly, up to 2^63-1', () => {
    expect(amountSchema.parse('1')).toBe(1n);
    expect(amountSchema.parse('9007199254740993')).toBe(9_007_199_254_740_993n);
    expect(amountSchema.parse(amountMax.toString())).toBe(amountMax);
  });

  it.each([
    ['zero', '0'],
    ['above 2^63-1', (amountMax + 1n).toString()],
    ['a JSON number', 1050],
    ['a fraction', '10.5'],
    ['a leading zero', '007'],
    ['a sign', '+1'],
    ['spaces', ' 1'],
    ['an exponent', '1e2'],
    ['empty', ''],
  ])('refuses %s', (_name, value) => {
    expect(amountSchema.safeParse(value).success).toBe(false);
  });
});

describe('the transfer request schema', () => {
  it('accepts a valid body and gives domain values', () => {
    const body = submitTransferBodySchema.parse({ ...validTransfer, metadata: { a: 1 } });

    expect(body).toEqual({ ...validTransfer, amount: 1050n, metadata: { a: 1 } });
  });

  it.each([
    ['debit_account_id', { ...validTransfer, debit_account_id: 'x' }],
    ['credit_account_id', { ...validTransfer, credit_account_id: undefined }],
    ['amount', { ...validTransfer, amount: 5 }],
    ['currency', { ...validTransfer, currency: 'EURO' }],
    ['metadata', { ...validTransfer, metadata: [] }],
    ['metadata', { ...validTransfer, metadata: { deep: nested(20) } }],
    ['status', { ...validTransfer, status: 'posted' }],
  ])('names %s when it is bad', (field, body) => {
    expect(refusedField(submitTransferBodySchema, body)).toBe(field);
  });

  it('names no field when the body is not an object', () => {
    expect(refusedField(submitTransferBodySchema, 'text')).toBe('(none)');
  });
});

describe('the account request schema', () => {
  it('names the nested flag path for a bad flag value and an unknown flag', () => {
    expect(
      refusedField(createAccountBodySchema, {
        currency: 'USD',
        flags: { credits_must_not_exceed_debits: 1 },
      }),
    ).toBe('flags.credits_must_not_exceed_debits');
    expect(refusedField(createAccountBodySchema, { currency: 'USD', flags: { x: true } })).toBe('flags.x');
  });

  it('names flags when both are set', () => {
    expect(
      refusedField(createAccountBodySchema, {
        currency: 'USD',
        flags: { debits_must_not_exceed_credits: true, credits_must_not_exceed_debits: true },
      }),
    ).toBe('flags');
  });

  it('accepts one flag, or both false', () => {
    expect(
      refusedField(createAccountBodySchema, {
        currency: 'USD',
        flags: { debits_must_not_exceed_credits: true },
      }),
    ).toBeUndefined();
    expect(
      refusedField(createAccountBodySchema, {
        currency: 'USD',
        flags: { debits_must_not_exceed_credits: false, credits_must_not_exceed_debits: false },
      }),
    ).toBeUndefined();
  });
});

describe('entry cursors and limits', () => {
  it('reads back every cursor it writes', () => {
    for (const id of [1n, 42n, 9_007_199_254_740_993n, amountMax]) {
      expect(decodeEntryCursor(encodeEntryCursor(id))).toBe(id);
    }
  });

  it.each(['', 'MA', 'LTE', 'MDE', 'MS4w', 'not a cursor', 'OTIyMzM3MjAzNjg1NDc3NTgwOA'])(
    'refuses the cursor %j',
    (cursor) => {
      expect(decodeEntryCursor(cursor)).toBeUndefined();
    },
  );

  it('takes limits from 1 to 200', () => {
    expect(entriesQuerySchema.parse({ limit: '1' }).limit).toBe(1);
    expect(entriesQuerySchema.parse({ limit: '200' }).limit).toBe(200);
    expect(entriesQuerySchema.parse({}).limit).toBeUndefined();
    for (const limit of ['0', '201', '1.5', '-1', '', '1e2', '0200']) {
      expect(entriesQuerySchema.safeParse({ limit }).success).toBe(false);
    }
  });
});

describe('idempotency keys', () => {
  it('takes 1 to 255 printable ASCII characters', () => {
    expect(idempotencyKeySchema.safeParse('a').success).toBe(true);
    expect(idempotencyKeySchema.safeParse('~'.repeat(255)).success).toBe(true);
    for (const key of ['', 'k'.repeat(256), 'é', 'a\nb', 'a\u007fb']) {
      expect(idempotencyKeySchema.safeParse(key).success).toBe(false);
    }
  });
});

function nested(depth: number): unknown {
  let value: unknown = 'leaf';
  for (let level = 0; level < depth; level += 1) value = { level: value };
  return value;
}
