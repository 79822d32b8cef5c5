/**
 * Branded ids: each is a plain string at run time, but only its validating constructor can make
 * one, so an account id cannot be passed where a transfer id is expected.
 */

export type AccountId = string & { readonly __brand: 'AccountId' };
export type TransferId = string & { readonly __brand: 'TransferId' };
/** A change of an account's state (frozen, unfrozen, closed): the subject of its event. */
export type AccountChangeId = string & { readonly __brand: 'AccountChangeId' };

/** Lower-case only, so one id has one spelling and equal ids compare equal as strings and keys. */
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const uuidNil = '00000000-0000-0000-0000-000000000000';

function isCanonicalUuid(value: unknown): value is string {
  return typeof value === 'string' && uuidPattern.test(value) && value !== uuidNil;
}

/**
 * Accepts an account id only as a canonical lower-case UUID; the nil UUID is rejected because it
 * is what a missing or zeroed id looks like.
 */
export function parseAccountId(value: unknown): AccountId | undefined {
  return isCanonicalUuid(value) ? (value as AccountId) : undefined;
}

/**
 * Accepts a transfer id only as a canonical lower-case UUID; the nil UUID is rejected because it
 * is what a missing or zeroed id looks like.
 */
export function parseTransferId(value: unknown): TransferId | undefined {
  return isCanonicalUuid(value) ? (value as TransferId) : undefined;
}

/**
 * Makes a fresh transfer id: a time-ordered UUID (version 7). Transfers are written in roughly
 * the order their ids are made, so new keys land at the right end of the btrees that index them
 * (transfers, entries by transfer) instead of on a random page each, which after every checkpoint
 * would cost a full-page image in the WAL. Posting never reads those pages under SERIALIZABLE in
 * the common case (see migration 0002), so a hot right-most page makes no false conflicts.
 */
export function newTransferId(now: number = Date.now()): TransferId {
  const id = parseTransferId(uuidVersion7(now));
  if (id === undefined) throw new Error('assertion failed: a version 7 UUID is canonical');
  return id;
}

/** Makes a fresh account change id: time-ordered like transfer ids, as changes are appended. */
export function newAccountChangeId(now: number = Date.now()): AccountChangeId {
  const id = uuidVersion7(now);
  if (!isCanonicalUuid(id)) throw new Error('assertion failed: a version 7 UUID is canonical');
  return id as AccountChangeId;
}

function uuidVersion7(now: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  let ms = now;
  for (let index = 5; index >= 0; index -= 1) {
    bytes[index] = ms % 256;
    ms = Math.floor(ms / 256);
  }
  bytes[6] = 0x70 | ((bytes[6] ?? 0) & 0x0f);
  bytes[8] = 0x80 | ((bytes[8] ?? 0) & 0x3f);
  const hex = Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * Makes a fresh account id: a random UUID (version 4). Accounts are looked up at random, and an
 * account's lock stripe is taken from the last digits of its id, which must be evenly spread.
 */
export function newAccountId(): AccountId {
  const id = parseAccountId(crypto.randomUUID());
  if (id === undefined) throw new Error('assertion failed: crypto.randomUUID() must return a canonical UUID');
  return id;
}
