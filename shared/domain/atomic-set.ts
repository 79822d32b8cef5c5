/**
 * Atomic sets: up to `atomicSetLegCountMax` transfers (legs) that post together in one database
 * transaction, or are all rejected (the first leg a rule rejects keeps its reason, every other
 * leg gets `linked_transfer_failed`). A set travels as one queue message, so it is queued,
 * delivered and retried whole: in the message group of its first leg's debit account,
 * deduplicated by its first leg's id.
 */
import {
  isReferring,
  type LedgerCommand,
  type ParseResult,
  parseLedgerJson,
  type TransferCommand,
  toTransferMessage,
} from './transfer';

/** The most legs one atomic set holds. */
export const atomicSetLegCountMax = 100;

/**
 * The largest queue message a set may take, in bytes: 256 KiB, the bound every SQS queue takes.
 * A set of 100 legs without metadata is about 30 KB; large metadata on many legs can pass it,
 * and the API refuses such a set rather than split it.
 */
export const atomicSetMessageBytesMax = 262_144;

/** What a message on the transfers queue carries: one transfer, or an atomic set of them. */
export type QueuedPosting =
  | { readonly kind: 'transfer'; readonly transfer: LedgerCommand }
  | { readonly kind: 'set'; readonly legs: readonly TransferCommand[] };

/** The message body of an atomic set: `{"atomic_set": [leg, …]}`, each leg a transfer message. */
export function toAtomicSetMessage(legs: readonly TransferCommand[]): string {
  return JSON.stringify({ atomic_set: legs.map(toTransferMessage) });
}

/**
 * Parses a transfers-queue message: a transfer, or an atomic set of 1 to 100 legs with distinct
 * ids. A body that fails here can never post (the consumer records it as poison).
 */
export function parseQueuedPosting(body: string): ParseResult<QueuedPosting> {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { ok: false, reason: 'body is not valid JSON' };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json) || !('atomic_set' in json)) {
    const transfer = parseLedgerJson(json);
    return transfer.ok ? { ok: true, value: { kind: 'transfer', transfer: transfer.value } } : transfer;
  }
  const { atomic_set: legsJson, ...rest } = json as { atomic_set: unknown };
  if (Object.keys(rest).length > 0)
    return { ok: false, reason: 'an atomic set message holds atomic_set only' };
  if (!Array.isArray(legsJson) || legsJson.length < 1 || legsJson.length > atomicSetLegCountMax) {
    return { ok: false, reason: `atomic_set must be an array of 1 to ${atomicSetLegCountMax} transfers` };
  }
  const legs: TransferCommand[] = [];
  for (const [index, legJson] of legsJson.entries()) {
    const leg = parseLedgerJson(legJson);
    if (!leg.ok) return { ok: false, reason: `atomic_set.${index}: ${leg.reason}` };
    // A leg moves money now: a hold, or a command naming another transfer, is no leg.
    if (isReferring(leg.value) || leg.value.pending !== undefined) {
      return { ok: false, reason: `atomic_set.${index}: a leg is a plain transfer` };
    }
    legs.push(leg.value);
  }
  if (new Set(legs.map((leg) => leg.id)).size !== legs.length) {
    return { ok: false, reason: 'the legs of an atomic set must have distinct ids' };
  }
  return { ok: true, value: { kind: 'set', legs } };
}
