import { type AccountId, parseAccountId, parseTransferId, type TransferId } from './ids';
import { type Metadata, metadataBytesMax, parseMetadata } from './metadata';
import { type CurrencyCode, formatMinorUnits, parseCurrency, parseMinorUnits } from './money';

/**
 * What a transfer does, as TigerBeetle's transfer flags say it:
 * - `transfer` moves money now;
 * - `pending` holds money (debits and credits pending) until it is posted, voided or expires;
 * - `post_pending` moves the money a pending transfer holds (all of it, or less: the rest is
 *   released) and `void_pending` releases the hold; both name the pending transfer;
 * - `reversal` moves money back: the accounts of a posted transfer swapped, up to its amount.
 */
export const transferKinds = ['transfer', 'pending', 'post_pending', 'void_pending', 'reversal'] as const;
export type TransferKind = (typeof transferKinds)[number];

/** The kinds that name another transfer rather than accounts. */
export type ReferringKind = 'post_pending' | 'void_pending' | 'reversal';

/** A pending transfer's timeout, in whole seconds: at least a second, at most 30 days. */
export const pendingTimeoutSMin = 1;
export const pendingTimeoutSMax = 30 * 24 * 3600;

export function isPendingTimeoutS(value: unknown): value is number {
  return (
    typeof value === 'number' &&
    Number.isInteger(value) &&
    value >= pendingTimeoutSMin &&
    value <= pendingTimeoutSMax
  );
}

/** A new transfer to post: validated, typed, amounts in minor units. With `pending`, a hold. */
export interface TransferCommand {
  readonly id: TransferId;
  readonly debitAccountId: AccountId;
  readonly creditAccountId: AccountId;
  readonly amount: bigint;
  readonly currency: CurrencyCode;
  readonly metadata: Metadata;
  /** When the API accepted the transfer, as an ISO 8601 timestamp. */
  readonly acceptedAt: string;
  /** Present on a pending transfer: how long the hold lasts before it expires. */
  readonly pending?: { readonly timeoutS: number };
}

/**
 * Where the API found the transfer a post, void or reversal names, when it found it: its
 * accounts, amount and currency as recorded (or as queued). The message is queued in the
 * message group of that debit account, so it is posted after the transfer it names; the
 * consumer reads the named transfer's own record and uses this only to find it quickly.
 */
export interface ReferencedTransfer {
  readonly debitAccountId: AccountId;
  readonly creditAccountId: AccountId;
  readonly amount: bigint;
  readonly currency: CurrencyCode;
}

/** A transfer that names another: the post or void of a pending transfer, or a reversal. */
export interface ReferringCommand {
  readonly kind: ReferringKind;
  readonly id: TransferId;
  /** The pending transfer (post, void) or the transfer to reverse (reversal). */
  readonly referenceId: TransferId;
  /** What to post or reverse; undefined: all of it. A void names none. */
  readonly amount: bigint | undefined;
  readonly metadata: Metadata;
  readonly acceptedAt: string;
  /** The named transfer as the API found it; undefined when it found none. */
  readonly referenced: ReferencedTransfer | undefined;
}

/** Everything the consumer posts. */
export type LedgerCommand = TransferCommand | ReferringCommand;

/** The kind of a command. */
export function commandKind(command: LedgerCommand): TransferKind {
  if ('kind' in command) return command.kind;
  return command.pending === undefined ? 'transfer' : 'pending';
}

export function isReferring(command: LedgerCommand): command is ReferringCommand {
  return 'kind' in command;
}

/**
 * The FIFO message group a command is queued in: the debit account of a new transfer, and the
 * debit account of the transfer a post, void or reversal names (so it is posted after it), or the
 * named id itself when the API found no such transfer (nothing is ordered with it then).
 */
export function messageGroupOf(command: LedgerCommand): string {
  if (!isReferring(command)) return command.debitAccountId;
  return command.referenced?.debitAccountId ?? command.referenceId;
}

/**
 * The queue message body: JSON, amounts as decimal strings of minor units. A plain transfer has
 * no `kind` (the form every earlier version sent); a pending one adds `kind` and `timeout_s`; a
 * post, void or reversal carries the id it names (`pending_id` or `reverses`), the amount when
 * one was asked for, and `referenced`, the named transfer as the API found it.
 */
export type TransferMessage =
  | {
      readonly id: string;
      readonly kind?: 'pending';
      readonly debit_account_id: string;
      readonly credit_account_id: string;
      readonly amount: string;
      readonly currency: string;
      readonly metadata: Metadata;
      readonly accepted_at: string;
      readonly timeout_s?: number;
    }
  | {
      readonly id: string;
      readonly kind: ReferringKind;
      readonly pending_id?: string;
      readonly reverses?: string;
      readonly amount?: string;
      readonly metadata: Metadata;
      readonly accepted_at: string;
      readonly referenced?: {
        readonly debit_account_id: string;
        readonly credit_account_id: string;
        readonly amount: string;
        readonly currency: string;
      };
    };

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

const amountReason = 'amount must be a decimal string of minor units from 1 to 2^63-1';

function parsePositiveAmount(value: unknown): bigint | undefined {
  const amount = parseMinorUnits(value);
  return amount === undefined || amount === 0n ? undefined : amount;
}

/**
 * Parses a queue message body into a command, or says which field is wrong. A body that fails
 * here can never post, so the consumer records it as poison instead of retrying it.
 */
export function parseLedgerMessage(body: string): ParseResult<LedgerCommand> {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { ok: false, reason: 'body is not valid JSON' };
  }
  return parseLedgerJson(json);
}

/** Parses a queue message already read from JSON (`parseLedgerMessage`'s second half). */
export function parseLedgerJson(json: unknown): ParseResult<LedgerCommand> {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return { ok: false, reason: 'body is not a JSON object' };
  }
  const message = json as Record<string, unknown>;
  const id = parseTransferId(message.id);
  if (id === undefined) return { ok: false, reason: 'id must be a lower-case UUID' };
  const kind = message.kind ?? 'transfer';
  if (kind === 'transfer' || kind === 'pending') return parseNewTransfer(message, id, kind);
  if (kind === 'post_pending' || kind === 'void_pending' || kind === 'reversal') {
    return parseReferring(message, id, kind);
  }
  return { ok: false, reason: 'kind must be pending, post_pending, void_pending or reversal' };
}

/** Parses a message that must be a new transfer (plain or pending); any other kind fails. */
export function parseTransferMessage(body: string): ParseResult<TransferCommand> {
  const parsed = parseLedgerMessage(body);
  if (!parsed.ok) return parsed;
  if (isReferring(parsed.value)) return { ok: false, reason: `a ${parsed.value.kind} is not a new transfer` };
  return { ok: true, value: parsed.value };
}

function parseCommon(
  message: Record<string, unknown>,
): ParseResult<{ metadata: Metadata; acceptedAt: string }> {
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
  return { ok: true, value: { metadata, acceptedAt } };
}

function parseNewTransfer(
  message: Record<string, unknown>,
  id: TransferId,
  kind: 'transfer' | 'pending',
): ParseResult<TransferCommand> {
  const debitAccountId = parseAccountId(message.debit_account_id);
  if (debitAccountId === undefined)
    return { ok: false, reason: 'debit_account_id must be a lower-case UUID' };
  const creditAccountId = parseAccountId(message.credit_account_id);
  if (creditAccountId === undefined)
    return { ok: false, reason: 'credit_account_id must be a lower-case UUID' };
  const amount = parsePositiveAmount(message.amount);
  if (amount === undefined) return { ok: false, reason: amountReason };
  const currency = parseCurrency(message.currency);
  if (currency === undefined) return { ok: false, reason: 'currency must be an ISO 4217 code' };
  const common = parseCommon(message);
  if (!common.ok) return common;
  const { metadata, acceptedAt } = common.value;
  const base = { id, debitAccountId, creditAccountId, amount, currency, metadata, acceptedAt };
  if (kind === 'transfer') {
    if (message.timeout_s !== undefined) return { ok: false, reason: 'timeout_s is for pending transfers' };
    return { ok: true, value: base };
  }
  if (!isPendingTimeoutS(message.timeout_s)) {
    return {
      ok: false,
      reason: `timeout_s must be a whole number of seconds from ${pendingTimeoutSMin} to ${pendingTimeoutSMax}`,
    };
  }
  return { ok: true, value: { ...base, pending: { timeoutS: message.timeout_s } } };
}

function parseReferring(
  message: Record<string, unknown>,
  id: TransferId,
  kind: ReferringKind,
): ParseResult<ReferringCommand> {
  const field = kind === 'reversal' ? 'reverses' : 'pending_id';
  const referenceId = parseTransferId(message[field]);
  if (referenceId === undefined) return { ok: false, reason: `${field} must be a lower-case UUID` };
  let amount: bigint | undefined;
  if (message.amount !== undefined) {
    if (kind === 'void_pending') return { ok: false, reason: 'a void names no amount' };
    amount = parsePositiveAmount(message.amount);
    if (amount === undefined) return { ok: false, reason: amountReason };
  }
  let referenced: ReferencedTransfer | undefined;
  if (message.referenced !== undefined) {
    const parsed = parseReferenced(message.referenced);
    if (parsed === undefined) {
      return {
        ok: false,
        reason:
          'referenced must hold the named transfer’s debit_account_id, credit_account_id, amount and currency',
      };
    }
    referenced = parsed;
  }
  const common = parseCommon(message);
  if (!common.ok) return common;
  return { ok: true, value: { kind, id, referenceId, amount, ...common.value, referenced } };
}

function parseReferenced(value: unknown): ReferencedTransfer | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const fields = value as Record<string, unknown>;
  const debitAccountId = parseAccountId(fields.debit_account_id);
  const creditAccountId = parseAccountId(fields.credit_account_id);
  const amount = parsePositiveAmount(fields.amount);
  const currency = parseCurrency(fields.currency);
  if (
    debitAccountId === undefined ||
    creditAccountId === undefined ||
    amount === undefined ||
    currency === undefined
  ) {
    return undefined;
  }
  return { debitAccountId, creditAccountId, amount, currency };
}

/** The queue message body for a command; `parseLedgerMessage` reads it back. */
export function toTransferMessage(command: LedgerCommand): TransferMessage {
  if (!isReferring(command)) {
    return {
      id: command.id,
      ...(command.pending === undefined ? {} : { kind: 'pending' as const }),
      debit_account_id: command.debitAccountId,
      credit_account_id: command.creditAccountId,
      amount: formatMinorUnits(command.amount),
      currency: command.currency,
      metadata: command.metadata,
      accepted_at: command.acceptedAt,
      ...(command.pending === undefined ? {} : { timeout_s: command.pending.timeoutS }),
    };
  }
  const { referenced } = command;
  return {
    id: command.id,
    kind: command.kind,
    ...(command.kind === 'reversal'
      ? { reverses: command.referenceId }
      : { pending_id: command.referenceId }),
    ...(command.amount === undefined ? {} : { amount: formatMinorUnits(command.amount) }),
    metadata: command.metadata,
    accepted_at: command.acceptedAt,
    ...(referenced === undefined
      ? {}
      : {
          referenced: {
            debit_account_id: referenced.debitAccountId,
            credit_account_id: referenced.creditAccountId,
            amount: formatMinorUnits(referenced.amount),
            currency: referenced.currency,
          },
        }),
  };
}

/**
 * The steps of a transfer's journey, in the order they happen. A step appears once it has been
 * recorded: the API records the first four, the consumer the next six (`pending`, `posted`,
 * `voided` and `rejected` are alternatives), the fraud scorer `fraud_scored`, and a pending
 * transfer ends with what became of it: posted by its post, voided by its void, or expired.
 */
export const timelineSteps = [
  'accepted',
  'idempotency_checked',
  'velocity_checked',
  'queued',
  'picked_up',
  'pending',
  'posted',
  'voided',
  'rejected',
  'outbox_written',
  'event_published',
  'fraud_scored',
  'pending_posted',
  'pending_voided',
  'pending_expired',
] as const;
export type TimelineStep = (typeof timelineSteps)[number];

/**
 * A command as a transfer record shows it: its kind, accounts, amount and currency (for a post,
 * void or reversal those of the transfer it names as far as the API found it, swapped for a
 * reversal, with the amount asked for or else the named one's), and what it names.
 */
export interface TransferFields {
  readonly id: TransferId;
  readonly kind: TransferKind;
  readonly debitAccountId: AccountId | null;
  readonly creditAccountId: AccountId | null;
  readonly amount: bigint | null;
  readonly currency: CurrencyCode | null;
  readonly metadata: Metadata;
  readonly acceptedAt: string;
  readonly timeoutS: number | null;
  readonly pendingId: TransferId | null;
  readonly reversesId: TransferId | null;
}

export function transferFieldsOf(command: LedgerCommand): TransferFields {
  const { id, metadata, acceptedAt } = command;
  if (!isReferring(command)) {
    return {
      id,
      kind: commandKind(command),
      debitAccountId: command.debitAccountId,
      creditAccountId: command.creditAccountId,
      amount: command.amount,
      currency: command.currency,
      metadata,
      acceptedAt,
      timeoutS: command.pending?.timeoutS ?? null,
      pendingId: null,
      reversesId: null,
    };
  }
  const { referenced } = command;
  const reversal = command.kind === 'reversal';
  return {
    id,
    kind: command.kind,
    debitAccountId: (reversal ? referenced?.creditAccountId : referenced?.debitAccountId) ?? null,
    creditAccountId: (reversal ? referenced?.debitAccountId : referenced?.creditAccountId) ?? null,
    amount: command.amount ?? referenced?.amount ?? null,
    currency: referenced?.currency ?? null,
    metadata,
    acceptedAt,
    timeoutS: null,
    pendingId: reversal ? null : command.referenceId,
    reversesId: reversal ? command.referenceId : null,
  };
}
