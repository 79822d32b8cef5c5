/**
 * Bulk submission: the rules of a batch of transfers submitted under one idempotency key, with no
 * I/O. A batch holds 1 to `batchItemCountMax` items; each is validated, admitted by its debit
 * account's velocity window and queued on its own, and the answer says, per item and in order,
 * what became of it.
 *
 * **Transfer ids.** The idempotency record of the batch's key reserves one UUIDv7, kept across
 * failed attempts exactly as a single submission's transfer id is (docs/front-door.md). Item `i`'s
 * transfer id is that UUID with its last 10 bits replaced by `i`, so every attempt under the key
 * gives every item the same id without storing a thousand ids (DynamoDB holds 400 KB per item).
 * The ids of one batch share the reserved id's 48-bit time and 64 of its random bits (the 12 of
 * `rand_a` and 52 of `rand_b`): two batches' ranges meet only if those 112 bits are equal, and a
 * single submission's random id falls inside a batch's range with a chance of 2^-64 per batch made
 * in the same millisecond. Within a batch the ids ascend in item order, so the ledger's btrees
 * append them at their right edge, as they do single transfers.
 */
import { parseTransferId, type TransferId } from './ids';

/** The most items one batch holds. Item indexes fit the 10 bits the ids give them. */
export const batchItemCountMax = 1_000;

/** The bits of a batch item's transfer id that carry its index. */
const indexBits = 10;
const indexMask = (1 << indexBits) - 1;

/**
 * The first and last transfer ids a batch's items may have: every item's id is between them, so
 * the batch's transfers are one range of the ledger's primary key (its progress is one index
 * range scan). The first is item 0's id, which also names the batch.
 */
export function batchTransferIdRange(reservedId: TransferId): { first: TransferId; last: TransferId } {
  return { first: batchTransferId(reservedId, 0), last: batchTransferId(reservedId, batchItemCountMax - 1) };
}

/** The transfer id of item `index` of the batch whose key reserved `reservedId`. */
export function batchTransferId(reservedId: TransferId, index: number): TransferId {
  if (!Number.isSafeInteger(index) || index < 0 || index >= batchItemCountMax) {
    throw new Error(
      `assertion failed: a batch item index is from 0 to ${batchItemCountMax - 1}, not ${index}`,
    );
  }
  // The last three hex digits are the id's low 12 bits: keep the top two, put the index below.
  const lastDigits = reservedId.slice(-3);
  const low = Number.parseInt(lastDigits, 16);
  const replaced = (low & ~indexMask & 0xfff) | index;
  const id = parseTransferId(`${reservedId.slice(0, -3)}${replaced.toString(16).padStart(3, '0')}`);
  if (id === undefined) throw new Error('assertion failed: a batch item id is a canonical UUID');
  return id;
}

/**
 * What became of one item, as the batch's answer records it:
 * - `queued`: admitted by its debit account's window and sent to the transfers queue under its id;
 * - `invalid`: the item failed validation (the answer names the field; nothing was written);
 * - `velocity_exceeded`: its debit account's window refused it (not queued, not counted);
 * - `linked_transfer_failed`: an item of an atomic batch that was valid and admitted, refused
 *   because another item of the batch was (not queued, not counted).
 */
export type BatchItemOutcome =
  | { readonly kind: 'queued' }
  | { readonly kind: 'invalid' }
  | { readonly kind: 'linked_transfer_failed' }
  | {
      readonly kind: 'velocity_exceeded';
      readonly limit: 'transfer_count' | 'amount';
      /** Whole seconds until the window would admit it; undefined: never (the amount alone). */
      readonly retryAfterS: number | undefined;
      /** The limits that refused it. */
      readonly windowS: number;
      readonly transferCountMax: number;
      readonly amountMax: bigint | undefined;
    };

/** The answer of a batch: stored under its key once its admitted items are queued, and replayed. */
export interface BatchAnswer {
  /** The UUID the key reserved; item `i`'s transfer id is `batchTransferId(reservedId, i)`. */
  readonly reservedId: TransferId;
  /** When the key's first attempt was accepted: every item's `accepted_at`. */
  readonly acceptedAt: string;
  readonly outcomes: readonly BatchItemOutcome[];
}

/** One letter per item in the stored form: queued, invalid, velocity exceeded, linked. */
const outcomeLetters = {
  queued: 'q',
  invalid: 'i',
  velocity_exceeded: 'v',
  linked_transfer_failed: 'l',
} as const;

/**
 * The stored form of a batch's answer: compact JSON, a letter per item and the details of refused
 * items only: at most ~55 KB for 1,000 items, all refused by the largest limits. The key's record
 * holds it twice (as the progress, and as Powertools' stored answer); DynamoDB allows 400 KB. The transfer
 * ids are not stored: they follow from the reserved id.
 */
export function encodeBatchAnswer(answer: BatchAnswer): string {
  const refusals: [number, string, number | null, number, number, string | null][] = [];
  answer.outcomes.forEach((outcome, index) => {
    if (outcome.kind === 'velocity_exceeded') {
      refusals.push([
        index,
        outcome.limit,
        outcome.retryAfterS ?? null,
        outcome.windowS,
        outcome.transferCountMax,
        outcome.amountMax === undefined ? null : outcome.amountMax.toString(),
      ]);
    }
  });
  return JSON.stringify({
    v: 1,
    reserved_id: answer.reservedId,
    accepted_at: answer.acceptedAt,
    outcomes: answer.outcomes.map((outcome) => outcomeLetters[outcome.kind]).join(''),
    refusals,
  });
}

/** Reads `encodeBatchAnswer`'s form back; undefined when the text is not one. */
export function decodeBatchAnswer(text: string): BatchAnswer | undefined {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof json !== 'object' || json === null) return undefined;
  const stored = json as Record<string, unknown>;
  const reservedId = parseTransferId(stored.reserved_id);
  const acceptedAt = stored.accepted_at;
  const letters = stored.outcomes;
  if (
    stored.v !== 1 ||
    reservedId === undefined ||
    typeof acceptedAt !== 'string' ||
    typeof letters !== 'string' ||
    !/^[qivl]{1,1000}$/.test(letters) ||
    !Array.isArray(stored.refusals)
  ) {
    return undefined;
  }
  const refusals = new Map<number, BatchItemOutcome>();
  for (const refusal of stored.refusals as unknown[]) {
    const parsed = parseRefusal(refusal);
    if (parsed === undefined) return undefined;
    refusals.set(parsed.index, parsed.outcome);
  }
  const outcomes: BatchItemOutcome[] = [];
  for (const [index, letter] of [...letters].entries()) {
    if (letter === 'q') outcomes.push({ kind: 'queued' });
    else if (letter === 'i') outcomes.push({ kind: 'invalid' });
    else if (letter === 'l') outcomes.push({ kind: 'linked_transfer_failed' });
    else {
      const refusal = refusals.get(index);
      if (refusal === undefined) return undefined;
      outcomes.push(refusal);
    }
  }
  return { reservedId, acceptedAt, outcomes };
}

function parseRefusal(value: unknown): { index: number; outcome: BatchItemOutcome } | undefined {
  if (!Array.isArray(value) || value.length !== 6) return undefined;
  const [index, limit, retryAfterS, windowS, transferCountMax, amountMax] = value as unknown[];
  if (
    typeof index !== 'number' ||
    !Number.isSafeInteger(index) ||
    (limit !== 'transfer_count' && limit !== 'amount') ||
    (retryAfterS !== null && (typeof retryAfterS !== 'number' || !Number.isSafeInteger(retryAfterS))) ||
    typeof windowS !== 'number' ||
    typeof transferCountMax !== 'number' ||
    (amountMax !== null && (typeof amountMax !== 'string' || !/^[1-9][0-9]{0,18}$/.test(amountMax)))
  ) {
    return undefined;
  }
  return {
    index,
    outcome: {
      kind: 'velocity_exceeded',
      limit,
      retryAfterS: retryAfterS ?? undefined,
      windowS,
      transferCountMax,
      amountMax: amountMax === null ? undefined : BigInt(amountMax),
    },
  };
}
