import { type AccountId, parseAccountId, parseTransferId, type TransferId } from './ids';
import { type CurrencyCode, formatMinorUnits, parseCurrency, parseMinorUnits } from './money';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** Free-form client data kept with a transfer or an account: a JSON object of bounded size. */
export type Metadata = Readonly<Record<string, JsonValue>>;

/**
 * Metadata's size bound as compact JSON. The database allows twice this for its own text form
 * (which adds a space after every ':' and ','), so what passes here always fits there.
 */
export const metadataBytesMax = 2048;

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

const isoTimestamp = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$/;

/** Validates metadata: a plain JSON object whose compact form fits `metadataBytesMax`. */
export function parseMetadata(value: unknown): Metadata | undefined {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const text = JSON.stringify(value);
  if (Buffer.byteLength(text, 'utf8') > metadataBytesMax) return undefined;
  return value as Metadata;
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
    return { ok: false, reason: `metadata must be a JSON object of at most ${metadataBytesMax} bytes` };
  }
  const acceptedAt = message.accepted_at;
  if (
    typeof acceptedAt !== 'string' ||
    !isoTimestamp.test(acceptedAt) ||
    Number.isNaN(Date.parse(acceptedAt))
  ) {
    return { ok: false, reason: 'accepted_at must be an ISO 8601 timestamp' };
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
