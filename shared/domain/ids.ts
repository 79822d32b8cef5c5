/**
 * Branded ids: each is a plain string at run time, but only its validating constructor can make
 * one, so an account id cannot be passed where a transfer id is expected.
 */

export type AccountId = string & { readonly __brand: 'AccountId' };
export type TransferId = string & { readonly __brand: 'TransferId' };

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

// Ids are random v4 UUIDs on purpose, not time-ordered ones: random keys spread inserts over the
// whole btree instead of one hot right-most page, and concurrent serializable transactions then
// seldom take predicate locks on the same index page, which would abort them as false conflicts.

/** Makes a fresh transfer id for a caller that did not supply one. */
export function newTransferId(): TransferId {
  return newId(parseTransferId);
}

/** Makes a fresh account id. */
export function newAccountId(): AccountId {
  return newId(parseAccountId);
}

function newId<Id>(parse: (value: unknown) => Id | undefined): Id {
  const id = parse(crypto.randomUUID());
  if (id === undefined) throw new Error('assertion failed: crypto.randomUUID() must return a canonical UUID');
  return id;
}
