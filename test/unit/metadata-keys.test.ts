import { describe, expect, it } from 'vitest';
import { createAccountBodySchema, submitTransferBodySchema } from '../../shared/api/schemas';
import { hasForbiddenMetadataKey } from '../../shared/domain/metadata';
import { problemFromZodError } from '../../shared/handlers/validation';

const transfer = {
  debit_account_id: '0192f6a4-1d2e-4c3b-8a9f-0123456789ab',
  credit_account_id: '0192f6a4-1d2e-4c3b-8a9f-0123456789ac',
  amount: '1050',
  currency: 'USD',
};

/** A body as JSON.parse reads it from the wire: `__proto__` is then an own key like any other. */
function wire(body: object, metadataText: string): unknown {
  return JSON.parse(`${JSON.stringify(body).slice(0, -1)},"metadata":${metadataText}}`);
}

describe('metadata keys named __proto__', () => {
  it.each([
    ['at the top', '{"__proto__":{"note":"x"},"a":1}'],
    ['nested', '{"a":{"__proto__":1}}'],
    ['in an array', '{"a":[{"__proto__":[]}]}'],
  ])('are refused %s, naming metadata, rather than dropped without a word', (_where, metadata) => {
    for (const [schema, body] of [
      [submitTransferBodySchema, transfer],
      [createAccountBodySchema, { currency: 'USD' }],
    ] as const) {
      const result = schema.safeParse(wire(body, metadata));

      expect(result.success).toBe(false);
      if (!result.success) expect(problemFromZodError(result.error).field).toBe('metadata');
    }
  });

  it('are found at any depth the metadata may have', () => {
    expect(hasForbiddenMetadataKey(JSON.parse('{"__proto__":1}'))).toBe(true);
    expect(hasForbiddenMetadataKey(JSON.parse('{"a":[{"b":{"__proto__":null}}]}'))).toBe(true);
    expect(hasForbiddenMetadataKey(JSON.parse('{"a":[{"b":{"proto":null}}]}'))).toBe(false);
  });

  it('leave keys that only look alike alone', () => {
    const result = createAccountBodySchema.safeParse(
      wire({ currency: 'USD' }, '{"proto":1,"__proto":2,"constructor":3}'),
    );

    expect(result.success && result.data.metadata).toEqual({ proto: 1, __proto: 2, constructor: 3 });
  });
});
