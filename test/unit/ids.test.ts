import { describe, expect, it } from 'vitest';
import {
  type AccountId,
  newAccountId,
  newTransferId,
  parseAccountId,
  parseTransferId,
  type TransferId,
} from '../../shared/domain/ids';

const parsers = [
  ['parseAccountId', parseAccountId],
  ['parseTransferId', parseTransferId],
] as const;

describe.each(parsers)('%s', (_name, parse) => {
  it.each([
    ['a version 4 UUID', '3f2b8c1e-9d4a-4e6b-8f7c-2a1d5e9b0c3f'],
    ['a version 7 UUID', '01890a5d-ac96-774b-bcce-b302099a8057'],
    ['a version 1 UUID', 'c232ab00-9414-11ec-b3c8-9f6bdeced846'],
    ['a UUID of a non-RFC variant', '3f2b8c1e-9d4a-4e6b-0f7c-2a1d5e9b0c3f'],
    ['the max UUID', 'ffffffff-ffff-ffff-ffff-ffffffffffff'],
  ])('accepts %s', (_description, value) => {
    expect(parse(value)).toBe(value);
  });

  it.each([
    ['an upper-case UUID', '3F2B8C1E-9D4A-4E6B-8F7C-2A1D5E9B0C3F'],
    ['a UUID with one upper-case digit', '3f2b8c1e-9d4a-4e6b-8f7c-2a1d5e9b0c3F'],
    ['a UUID in braces', '{3f2b8c1e-9d4a-4e6b-8f7c-2a1d5e9b0c3f}'],
    ['a URN', 'urn:uuid:3f2b8c1e-9d4a-4e6b-8f7c-2a1d5e9b0c3f'],
    ['a UUID without dashes', '3f2b8c1e9d4a4e6b8f7c2a1d5e9b0c3f'],
    ['a UUID with dashes in the wrong places', '3f2b8c1e9-d4a-4e6b-8f7c-2a1d5e9b0c3f'],
    ['a UUID with a non-hex digit', '3f2b8c1e-9d4a-4e6b-8f7c-2a1d5e9b0c3g'],
    ['a UUID with surrounding whitespace', ' 3f2b8c1e-9d4a-4e6b-8f7c-2a1d5e9b0c3f '],
    ['a UUID with a trailing newline', '3f2b8c1e-9d4a-4e6b-8f7c-2a1d5e9b0c3f\n'],
    ['a truncated UUID', '3f2b8c1e-9d4a-4e6b-8f7c-2a1d5e9b0c3'],
    ['the nil UUID', '00000000-0000-0000-0000-000000000000'],
    ['an empty string', ''],
    ['a number', 42],
    ['null', null],
    ['undefined', undefined],
  ])('rejects %s', (_description, value) => {
    expect(parse(value)).toBeUndefined();
  });
});

describe('newAccountId', () => {
  it('makes an id that parseAccountId accepts', () => {
    const id: AccountId = newAccountId();

    expect(parseAccountId(id)).toBe(id);
  });

  it('makes a version 4 UUID', () => {
    expect(newAccountId()).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('makes a different id each time', () => {
    const ids = new Set(Array.from({ length: 100 }, () => newAccountId()));

    expect(ids.size).toBe(100);
  });
});

describe('newTransferId', () => {
  it('makes an id that parseTransferId accepts', () => {
    const id: TransferId = newTransferId();

    expect(parseTransferId(id)).toBe(id);
  });

  it('makes a version 7 UUID', () => {
    expect(newTransferId()).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('carries the time it was made in its first 48 bits, so ids sort by creation time', () => {
    const madeAtMs = Date.UTC(2026, 10, 25, 12, 0, 0, 123);

    const id = newTransferId(madeAtMs);

    expect(Number.parseInt(id.replaceAll('-', '').slice(0, 12), 16)).toBe(madeAtMs);
    expect(newTransferId(madeAtMs + 1) > id).toBe(true);
  });

  it('makes a different id each time', () => {
    const ids = new Set(Array.from({ length: 100 }, () => newTransferId()));

    expect(ids.size).toBe(100);
  });
});

describe('branding', () => {
  it('does not let an account id stand in for a transfer id', () => {
    const accountId = newAccountId();

    // @ts-expect-error An AccountId is not a TransferId, even though both are strings at run time.
    const transferId: TransferId = accountId;

    expect(transferId).toBe(accountId);
  });
});
