import { type AccountId, parseAccountId, parseTransferId, type TransferId } from './ids';
import { type Metadata, metadataBytesMax, parseMetadata } from './metadata';
import { type CurrencyCode, formatMinorUnits, parseCurrency, parseMinorUnits } from './money';

/** A transfer to post: validated, typed, amounts in minor units. */
export interface TransferCommand {
  readonly id: TransferId;
  readonly debitAccountId: AccountId;
  readonly creditAccountId: AccountId;
  readonly amount: bigint;
  readonly currency: CurrencyCode;
  readonly metadata: Metadata;
  /** When the API accepted the transfer, as an ISO 8601 timestamp. */
  readonly acceptedAt: string;
}

/** The queue message body for a transfer: JSON, amounts as decimal strings of minor units. */
export interface TransferMessage {
  readonly id: string;
  readonly debit_account_id: string;
  readonly credit_account_id: string;
  readonly amount: string;
  readonly currency: string;
  readonly metadata: Metadata;
  readonly accepted_at: string;
}

export type ParseResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly reason: string };

/** The form `Date.prototype.toISOString` writes, which is how the API stamps `accepted_at`. */
const isoTimestamp = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const timestampMinMs = Date.UTC(2000, 0, 1);
const timestampMaxMs = Date.UTC(9999, 11, 31);

/**
 * Accepts a UTC timestamp in `toISOString` form that names a real instant: '2024-02-30…' is
 * refused rather than rolled over to March, since Postgres would refuse it too.
 */
export function parseTimestamp(value: unknown): string | undefined {
  if (typeof value !== 'string' || !isoTimestamp.test(value)) return undefined;
  const ms = Date.parse(value);
  if (Number.isNaN(ms) || ms < timestampMinMs || ms > timestampMaxMs) return undefined;
  return new Date(ms).toISOString() === value ? value : undefined;
}

/**
 * Parses a queue message body into a transfer command, or says which field is wrong. A body
 * that fails here can never post, so the consumer records it as poison instead of retrying it.
 */
export function parseTransferMessage(body: string): ParseResult<TransferCommand> {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { ok: false, reason: 'body is not valid JSON' };
  }
  return parseTransferJson(json);
}

/** Parses a transfer message already read from JSON (`parseTransferMessage`'s second half). */
export function parseTransferJson(json: unknown): ParseResult<TransferCommand> {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return { ok: false, reason: 'body is not a JSON object' };
  }
  const message = json as Record<string, unknown>;
  const id = parseTransferId(message.id);
  if (id === undefined) return { ok: false, reason: 'id must be a lower-case UUID' };
  const debitAccountId = parseAccountId(message.debit_account_id);
  if (debitAccountId === undefined)
    return { ok: false, reason: 'debit_account_id must be a lower-case UUID' };
  const creditAccountId = parseAccountId(message.credit_account_id);
  if (creditAccountId === undefined)
    return { ok: false, reason: 'credit_account_id must be a lower-case UUID' };
  const amount = parseMinorUnits(message.amount);
  if (amount === undefined || amount === 0n) {
    return { ok: false, reason: 'amount must be a decimal string of minor units from 1 to 2^63-1' };
  }
  const currency = parseCurrency(message.currency);
  if (currency === undefined) return { ok: false, reason: 'currency must be an ISO 4217 code' };
  const metadata = parseMetadata(message.metadata);
  if (metadata === undefined) {
    return {
      ok: false,
      reason: `metadata must be a JSON object of at most ${metadataBytesMax} bytes, without NUL characters`,
    };
  }
  const acceptedAt = parseTimestamp(message.accepted_at);
  if (acceptedAt === undefined) {
    return { ok: false, reason: 'accepted_at must be a UTC timestamp like 2026-01-31T12:00:00.000Z' };
  }
  return { ok: true, value: { id, debitAccountId, creditAccountId, amount, currency, metadata, acceptedAt } };
}

/** The queue message body for a transfer command; `parseTransferMessage` reads it back. */
export function toTransferMessage(command: TransferCommand): TransferMessage {
  return {
    id: command.id,
    debit_account_id: command.debitAccountId,
    credit_account_id: command.creditAccountId,
    amount: formatMinorUnits(command.amount),
    currency: command.currency,
    metadata: command.metadata,
    accepted_at: command.acceptedAt,
  };
}

/**
 * The steps of a transfer's journey, in the order they happen. A step appears once it has been
 * recorded: the API records the first four, the consumer the next four, the fraud scorer the last.
 */
export const timelineSteps = [
  'accepted',
  'idempotency_checked',
  'velocity_checked',
  'queued',
  'picked_up',
  'posted',
  'rejected',
  'outbox_written',
  'event_published',
  'fraud_scored',
] as const;
export type TimelineStep = (typeof timelineSteps)[number];
