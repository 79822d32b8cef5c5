/**
 * The HTTP contract as zod schemas: what each route takes (validated, then turned into domain
 * values: bigint amounts, branded ids, checked metadata) and what it answers. The validators and
 * the OpenAPI document (`openapi.ts`) are made from these same schemas, so they cannot drift.
 *
 * Request schemas refuse unknown keys, so a misspelt optional field is an error rather than
 * silently ignored. Amounts are decimal strings of integer minor units, read by the domain's own
 * `parseMinorUnits`: a JSON number would lose precision above 2^53 before anything could check it.
 */
import { z } from 'zod';
import { accountStatuses } from '../domain/accounts';
import { atomicSetLegCountMax } from '../domain/atomic-set';
import { batchItemCountMax } from '../domain/batch';
import { fraudReasons } from '../domain/fraud';
import { parseAccountId, parseTransferId } from '../domain/ids';
import {
  forbiddenMetadataKey,
  hasForbiddenMetadataKey,
  metadataBytesMax,
  metadataDepthMax,
  parseMetadata,
} from '../domain/metadata';
import { amountMax, parseCurrency, parseMinorUnits } from '../domain/money';
import { recordedRejectionReasons } from '../domain/results';
import { pendingTimeoutSMax, pendingTimeoutSMin, timelineSteps, transferKinds } from '../domain/transfer';
import { velocityTransferCountMaxBound, velocityWindowSMax } from '../domain/velocity';

/** The most entries one page holds, and how many a page holds when the client does not say. */
export const entryPageSizeMax = 200;
export const entryPageSizeDefault = 50;

/** The paging bounds the accounts service applies. */
export const entryPaging = { pageSizeDefault: entryPageSizeDefault, pageSizeMax: entryPageSizeMax } as const;

/** Idempotency keys: 1 to 255 printable ASCII characters (the usual bound; DynamoDB keys hold it). */
export const idempotencyKeyCharsMax = 255;

/** The `code` column is a 16-bit unsigned integer, as in TigerBeetle. */
export const accountCodeMax = 65_535;

/**
 * The named schemas of the contract; the OpenAPI document lists them under components.schemas and
 * refers to them by name. A registry of its own, so no other zod schema in the process leaks in.
 */
export const apiSchemas = z.registry<{ id: string }>();

const uuidPattern = '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';

// ---------------------------------------------------------------------------------------------
// Values

/** A lower-case, non-nil UUID, parsed into its branded id type. */
function idSchema<Id extends string>(parse: (value: string) => Id | undefined, description: string) {
  return z
    .string()
    .regex(new RegExp(uuidPattern), 'must be a lower-case UUID')
    .transform((value, context) => {
      const id = parse(value);
      if (id === undefined) {
        context.issues.push({ code: 'custom', message: 'must not be the nil UUID', input: value });
        return z.NEVER;
      }
      return id;
    })
    .meta({ description, format: 'uuid' });
}

export const accountIdSchema = idSchema(parseAccountId, 'An account id: a lower-case UUID.');

export const transferIdSchema = idSchema(
  parseTransferId,
  'A transfer id: a lower-case UUID (version 7, time-ordered).',
);

export const currencySchema = z
  .string()
  .regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code in capitals, like USD')
  .transform((value, context) => {
    const currency = parseCurrency(value);
    if (currency === undefined) {
      context.issues.push({
        code: 'custom',
        message: `${value} is not a currency the ledger knows`,
        input: value,
      });
      return z.NEVER;
    }
    return currency;
  })
  .meta({ description: 'An ISO 4217 currency code with a minor unit.', examples: ['USD'] });

/** A positive amount in minor units, as a decimal string: "1050" is 10.50 USD. */
export const amountSchema = z
  .string()
  .regex(/^(?:0|[1-9][0-9]*)$/, 'must be a decimal string of minor units, like "1050"')
  .max(amountMax.toString().length, 'must be at most 2^63-1')
  .transform((value, context) => {
    const amount = parseMinorUnits(value);
    if (amount === undefined || amount === 0n) {
      context.issues.push({ code: 'custom', message: 'must be from 1 to 2^63-1 minor units', input: value });
      return z.NEVER;
    }
    return amount;
  })
  .meta({
    description: 'An amount in integer minor units of the currency, as a decimal string (1 to 2^63-1).',
    examples: ['1050'],
  });

const metadataMessage = `must be a JSON object of at most ${metadataBytesMax} bytes and ${metadataDepthMax} levels, without NUL characters or ${forbiddenMetadataKey} keys`;

/** Client metadata: a JSON object, at most `metadataBytesMax` bytes as stored. */
export const metadataSchema = z
  .preprocess(
    (value, context) => {
      // Looked for before zod's record copies the object, which leaves a top-level `__proto__`
      // key out of its copy without a word.
      if (hasForbiddenMetadataKey(value)) {
        context.issues.push({ code: 'custom', message: metadataMessage, input: value });
      }
      return value;
    },
    z.record(z.string(), z.unknown()),
  )
  .transform((value, context) => {
    const metadata = parseMetadata(value);
    if (metadata === undefined) {
      context.issues.push({ code: 'custom', message: metadataMessage, input: value });
      return z.NEVER;
    }
    return metadata;
  })
  .meta({ description: `Free-form client data: a JSON object of at most ${metadataBytesMax} bytes.` });

export const idempotencyKeySchema = z
  .string()
  .min(1, 'must not be empty')
  .max(idempotencyKeyCharsMax, `must be at most ${idempotencyKeyCharsMax} characters`)
  .regex(/^[\x20-\x7E]+$/, 'must be printable ASCII')
  .meta({ description: 'A key the client makes per logical request; a retry sends the same key.' });

const timestampSchema = z.string().meta({ format: 'date-time', examples: ['2026-01-31T12:00:00.000Z'] });
const amountOutSchema = z
  .string()
  .meta({ description: 'An amount in integer minor units, as a decimal string.', examples: ['1050'] });
const uuidOutSchema = z.string().meta({ format: 'uuid' });
const signedAmountOutSchema = z
  .string()
  .meta({ description: 'A signed amount in integer minor units, as a decimal string.', examples: ['-1050'] });
const metadataOutSchema = z.record(z.string(), z.unknown());

// ---------------------------------------------------------------------------------------------
// Accounts

const accountFlagsSchema = z
  .strictObject({
    debits_must_not_exceed_credits: z.boolean().optional(),
    credits_must_not_exceed_debits: z.boolean().optional(),
  })
  .superRefine((flags, context) => {
    if (flags.debits_must_not_exceed_credits === true && flags.credits_must_not_exceed_debits === true) {
      context.addIssue({
        code: 'custom',
        message: 'debits_must_not_exceed_credits and credits_must_not_exceed_debits exclude each other',
      });
    }
  });

/**
 * An account's own velocity limits. A field left out or null takes the deployment's default
 * (LEDGER_VELOCITY_WINDOW_S, LEDGER_VELOCITY_MAX_TRANSFERS, LEDGER_VELOCITY_MAX_AMOUNT).
 */
export const velocityLimitsSchema = z
  .strictObject({
    window_s: z
      .int()
      .min(1)
      .max(velocityWindowSMax)
      .nullable()
      .optional()
      .meta({ description: `The length of a fixed window in seconds (1 to ${velocityWindowSMax}).` }),
    max_transfers: z
      .int()
      .min(1)
      .max(velocityTransferCountMaxBound)
      .nullable()
      .optional()
      .meta({
        description: `Transfers the account may send within the window (1 to ${velocityTransferCountMaxBound}).`,
      }),
    max_amount: amountSchema
      .nullable()
      .optional()
      .meta({ description: 'Minor units the account may send within the window, as a decimal string.' }),
  })
  .register(apiSchemas, { id: 'VelocityLimits' });

export type VelocityLimitsBody = z.output<typeof velocityLimitsSchema>;

export const createAccountBodySchema = z
  .strictObject({
    currency: currencySchema,
    flags: accountFlagsSchema.optional(),
    code: z
      .int()
      .min(0)
      .max(accountCodeMax)
      .optional()
      .meta({ description: 'A number the client chooses to classify the account (0 to 65535).' }),
    metadata: metadataSchema.optional(),
    velocity: velocityLimitsSchema.optional(),
  })
  .register(apiSchemas, { id: 'CreateAccountRequest' });

export type CreateAccountBody = z.output<typeof createAccountBodySchema>;

export const accountPathSchema = z.object({ id: accountIdSchema });

export const accountResponseSchema = z
  .object({
    id: uuidOutSchema,
    currency: z.string(),
    code: z.int(),
    flags: z.object({
      debits_must_not_exceed_credits: z.boolean(),
      credits_must_not_exceed_debits: z.boolean(),
    }),
    status: z.enum(accountStatuses).meta({
      description:
        'open; frozen (takes part in no new transfer, though its pending transfers can still be voided or expire); closed (for good).',
    }),
    debits_posted: amountOutSchema,
    credits_posted: amountOutSchema,
    debits_pending: amountOutSchema,
    credits_pending: amountOutSchema,
    balance: z
      .object({
        posted: signedAmountOutSchema.meta({ description: 'credits_posted - debits_posted.' }),
        pending: signedAmountOutSchema.meta({ description: 'credits_pending - debits_pending.' }),
        available: signedAmountOutSchema.meta({
          description:
            'credits_posted - debits_posted - debits_pending: what the account can still send, money held for its pending debits being spoken for.',
        }),
      })
      .meta({
        description:
          "The account's balances from its credit side, in minor units (negative: debits are larger).",
      }),
    metadata: metadataOutSchema,
    created_at: timestampSchema,
    version: z
      .string()
      .meta({ description: 'Grows by one with every change of the account, as a decimal string.' }),
    velocity: z
      .object({
        window_s: z.int().nullable(),
        max_transfers: z.int().nullable(),
        max_amount: amountOutSchema.nullable(),
      })
      .meta({ description: "The account's own velocity limits; null takes the deployment's default." }),
  })
  .register(apiSchemas, { id: 'Account' });

export type AccountResponse = z.output<typeof accountResponseSchema>;

// ---------------------------------------------------------------------------------------------
// Entries

/** The cursor is the base64url of the last entry id on the page, in decimal. */
export function encodeEntryCursor(entryId: bigint): string {
  return Buffer.from(entryId.toString(), 'utf8').toString('base64url');
}

/** Reads a cursor back; undefined when it is not one this API made. */
export function decodeEntryCursor(cursor: string): bigint | undefined {
  if (!/^[A-Za-z0-9_-]{1,40}$/.test(cursor)) return undefined;
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!/^[1-9][0-9]{0,18}$/.test(text)) return undefined;
  const entryId = BigInt(text);
  if (entryId > amountMax || encodeEntryCursor(entryId) !== cursor) return undefined;
  return entryId;
}

/**
 * A page size in a query string: a whole number from 1 to `paging.pageSizeMax`, optional (the
 * service applies `pageSizeDefault`). `what` names the items in the description.
 */
function pageLimitSchema(what: string, paging: { pageSizeMax: number; pageSizeDefault: number }) {
  return z
    .string()
    .regex(/^[1-9][0-9]{0,3}$/, `must be a whole number from 1 to ${paging.pageSizeMax}`)
    .transform((value) => Number.parseInt(value, 10))
    .pipe(z.int().min(1).max(paging.pageSizeMax, `must be at most ${paging.pageSizeMax}`))
    .optional()
    .meta({
      description: `${what} per page: 1 to ${paging.pageSizeMax}, ${paging.pageSizeDefault} by default.`,
    });
}

/** An opaque cursor in a query string, read back by `decode`; 400 when it is not one we made. */
function cursorSchema<Position>(decode: (cursor: string) => Position | undefined, description: string) {
  return z
    .string()
    .transform((value, context) => {
      const position = decode(value);
      if (position === undefined) {
        context.issues.push({ code: 'custom', message: 'is not a cursor this API made', input: value });
        return z.NEVER;
      }
      return position;
    })
    .optional()
    .meta({ description });
}

/**
 * An instant in a query string: an RFC 3339 time with its offset (`Z` or `±hh:mm`), a real date,
 * year 0001 or later (what Postgres stores). Kept as given: Postgres reads it to the microsecond.
 */
const instantSchema = z.iso
  .datetime({ offset: true, error: 'must be an RFC 3339 time with an offset, like 2026-01-31T12:00:00Z' })
  .refine((value) => !value.startsWith('0000'), 'must be in year 0001 or later');

export const entriesQuerySchema = z.object({
  limit: pageLimitSchema('Entries', entryPaging),
  cursor: cursorSchema(
    decodeEntryCursor,
    'The `next_cursor` of the previous page; omit it for the newest entries.',
  ),
  as_of: instantSchema.optional().meta({
    description:
      'Only entries posted at or before this RFC 3339 time, newest first; pages keep it in their requests.',
    examples: ['2026-01-31T12:00:00Z'],
  }),
});

export const balanceQuerySchema = z.object({
  as_of: instantSchema.meta({
    description: 'The instant, an RFC 3339 time with its offset.',
    examples: ['2026-01-31T12:00:00Z'],
  }),
});

export const balanceResponseSchema = z
  .object({
    account_id: uuidOutSchema,
    currency: z.string(),
    as_of: z.string().meta({ description: 'The instant asked for, as given.' }),
    debits_posted: amountOutSchema,
    credits_posted: amountOutSchema,
    balance: z.string().meta({
      description:
        'credits_posted minus debits_posted, in minor units, as a decimal string (negative when debits exceed credits).',
      examples: ['-250'],
    }),
    last_entry_id: z.string().nullable().meta({
      description:
        'The newest entry at or before the instant, whose totals these are; null before the first.',
    }),
  })
  .register(apiSchemas, { id: 'BalanceAsOf' });

export type BalanceResponse = z.output<typeof balanceResponseSchema>;

export const entryResponseSchema = z
  .object({
    id: z.string().meta({ description: 'The entry id, unique in the journal, as a decimal string.' }),
    transfer_id: uuidOutSchema,
    direction: z.enum(['debit', 'credit']),
    amount: amountOutSchema,
    currency: z.string(),
    debits_posted_after: amountOutSchema,
    credits_posted_after: amountOutSchema,
    created_at: timestampSchema,
  })
  .register(apiSchemas, { id: 'Entry' });

export const entryPageResponseSchema = z
  .object({
    items: z.array(entryResponseSchema),
    next_cursor: z.string().nullable(),
  })
  .register(apiSchemas, { id: 'EntryPage' });

export type EntryPageResponse = z.output<typeof entryPageResponseSchema>;

// ---------------------------------------------------------------------------------------------
// Transfers

const timeoutSchema = z
  .int()
  .min(pendingTimeoutSMin)
  .max(pendingTimeoutSMax)
  .meta({
    description: `How long a pending transfer holds its money before it expires, in seconds (${pendingTimeoutSMin} to ${pendingTimeoutSMax}, 30 days); LEDGER_PENDING_TIMEOUT_S when left out.`,
  });

export const submitTransferBodySchema = z
  .strictObject({
    debit_account_id: accountIdSchema,
    credit_account_id: accountIdSchema,
    amount: amountSchema,
    currency: currencySchema,
    metadata: metadataSchema.optional(),
    pending: z.boolean().optional().meta({
      description:
        'true: a two-phase transfer. It holds the amount (debits and credits pending) until it is posted (POST /v1/transfers/{id}/post), voided (…/void) or expires.',
    }),
    timeout_s: timeoutSchema.optional(),
  })
  // The engine would reject it as accounts_must_be_different; a client is better told at once.
  .refine((body) => body.debit_account_id !== body.credit_account_id, {
    message: 'must differ from debit_account_id',
    path: ['credit_account_id'],
  })
  .refine((body) => body.timeout_s === undefined || body.pending === true, {
    message: 'is for a pending transfer (pending: true)',
    path: ['timeout_s'],
  })
  .register(apiSchemas, { id: 'SubmitTransferRequest' });

export const postPendingTransferBodySchema = z
  .strictObject({
    amount: amountSchema.optional().meta({
      description: 'What to post, at most the pending amount; the rest is released. All of it when left out.',
    }),
    metadata: metadataSchema.optional(),
  })
  .register(apiSchemas, { id: 'PostPendingTransferRequest' });

export type PostPendingTransferBody = z.output<typeof postPendingTransferBodySchema>;

export const voidPendingTransferBodySchema = z
  .strictObject({ metadata: metadataSchema.optional() })
  .register(apiSchemas, { id: 'VoidPendingTransferRequest' });

export const reverseTransferBodySchema = z
  .strictObject({
    amount: amountSchema.optional().meta({
      description:
        "What to move back, at most what the transfer moved less its earlier reversals. The transfer's whole amount when left out.",
    }),
    metadata: metadataSchema.optional(),
  })
  .register(apiSchemas, { id: 'ReverseTransferRequest' });

export type SubmitTransferBody = z.output<typeof submitTransferBodySchema>;

export const transferPathSchema = z.object({ id: transferIdSchema });

const transferKindSchema = z.enum(transferKinds).meta({
  description:
    'transfer (moves money), pending (holds it), post_pending and void_pending (post or release a hold; pending_id names it), reversal (moves money back; reverses names the transfer).',
});

/**
 * The fields every transfer answer has. The accounts, amount and currency of a post, void or
 * reversal are those of the transfer it names (swapped for a reversal); null while that transfer
 * is unknown.
 */
const transferFieldShapes = {
  id: uuidOutSchema,
  kind: transferKindSchema,
  debit_account_id: uuidOutSchema.nullable(),
  credit_account_id: uuidOutSchema.nullable(),
  amount: amountOutSchema.nullable(),
  currency: z.string().nullable(),
  metadata: metadataOutSchema,
  accepted_at: timestampSchema,
  timeout_s: z.int().nullable().meta({ description: "A pending transfer's timeout in seconds." }),
  pending_id: uuidOutSchema.nullable().meta({ description: 'The pending transfer a post or void names.' }),
  reverses: uuidOutSchema.nullable().meta({ description: 'The transfer a reversal reverses.' }),
} as const;

export const transferAcceptedResponseSchema = z
  .object({ ...transferFieldShapes, status: z.literal('queued') })
  .register(apiSchemas, { id: 'TransferAccepted' });

export type TransferAcceptedResponse = z.output<typeof transferAcceptedResponseSchema>;

/** The fraud score's range: 0 (nothing unusual) to 1, rounded to three decimals. */
const fraudScoreSchema = z.number().min(0).max(1).nullable().meta({
  description:
    'The anomaly score, 0 (as usual) to 1 (nothing like the account), three decimals; null until the scorer has run (and for rejected transfers, which are not scored).',
});

const fraudReasonsSchema = z
  .array(z.enum(fraudReasons))
  .meta({ description: 'Why the transfer looks unusual, from the scorer and the pattern listener.' });

const fraudSchema = z
  .object({
    status: z.enum(['pending', 'clear', 'flagged']).meta({
      description:
        'pending until the scorer has run; flagged when the score reached the threshold or a pattern (fan-out, structuring) was found; clear otherwise.',
    }),
    score: fraudScoreSchema,
    reasons: fraudReasonsSchema,
  })
  .register(apiSchemas, { id: 'FraudVerdict' });

export const transferStatuses = ['queued', 'pending', 'posted', 'voided', 'expired', 'rejected'] as const;

export const transferResponseSchema = z
  .object({
    ...transferFieldShapes,
    status: z.enum(transferStatuses).meta({
      description:
        'queued until the ledger decides it; then posted, voided or rejected for good; a pending transfer is pending until it is posted, voided or expired.',
    }),
    reason: z.enum(recordedRejectionReasons).nullable().meta({
      description: 'Why a rejected transfer was rejected (docs/ledger.md lists them in check order).',
    }),
    processed_at: timestampSchema.nullable(),
    pending: z
      .object({
        expires_at: timestampSchema,
        posted_amount: amountOutSchema
          .nullable()
          .meta({ description: 'What the post moved (the rest was released).' }),
        resolved_by: uuidOutSchema
          .nullable()
          .meta({ description: 'The post or void transfer that resolved it.' }),
        resolved_at: timestampSchema.nullable(),
      })
      .nullable()
      .meta({ description: "A pending transfer's hold once the ledger recorded it; null for any other." }),
    reversed_amount: amountOutSchema.meta({ description: 'What its posted reversals moved back, in all.' }),
    reversals: z
      .array(z.object({ id: uuidOutSchema, amount: amountOutSchema, processed_at: timestampSchema }))
      .meta({ description: 'Its posted reversals, oldest first (at most 100; reversed_amount counts all).' }),
    timeline: z.array(z.object({ step: z.enum(timelineSteps), at: timestampSchema })),
    fraud: fraudSchema,
    dead_letter: z
      .object({
        at: timestampSchema.meta({ description: 'When its message failed its last delivery.' }),
        receive_count: z.number().int().meta({ description: 'How many times it was delivered.' }),
      })
      .nullable()
      .meta({
        description:
          'Set while a queued transfer waits in the dead-letter queue: every delivery to the consumer failed, so it is neither posted nor rejected until an operator redrives it. Its status stays `queued`. Null for every other transfer, and once the ledger has decided it.',
      }),
  })
  .register(apiSchemas, { id: 'Transfer' });

export type TransferResponse = z.output<typeof transferResponseSchema>;

// ---------------------------------------------------------------------------------------------
// Fraud flags

/** The most flags one page holds, and how many a page holds when the client does not say. */
export const flagPageSizeMax = 200;
export const flagPageSizeDefault = 50;

/** The paging bounds the flags service applies. */
export const flagPaging = { pageSizeDefault: flagPageSizeDefault, pageSizeMax: flagPageSizeMax } as const;

export const flagsQuerySchema = z.object({
  limit: pageLimitSchema('Flags', flagPaging),
  // The same opaque form as the entries' cursor: the base64url of a decimal id.
  cursor: cursorSchema(
    decodeEntryCursor,
    'The `next_cursor` of the previous page; omit it for the newest flags.',
  ),
});

export const fraudFlagResponseSchema = z
  .object({
    transfer_id: uuidOutSchema,
    debit_account_id: uuidOutSchema,
    credit_account_id: uuidOutSchema,
    amount: amountOutSchema,
    currency: z.string(),
    score: fraudScoreSchema,
    reasons: fraudReasonsSchema,
    flagged_at: timestampSchema,
  })
  .register(apiSchemas, { id: 'FraudFlag' });

export const fraudFlagPageResponseSchema = z
  .object({
    items: z.array(fraudFlagResponseSchema),
    next_cursor: z.string().nullable(),
  })
  .register(apiSchemas, { id: 'FraudFlagPage' });

export type FraudFlagPageResponse = z.output<typeof fraudFlagPageResponseSchema>;

// ---------------------------------------------------------------------------------------------
// Others

export const problemResponseSchema = z
  .object({
    type: z.string().meta({ format: 'uri' }),
    title: z.string(),
    status: z.int(),
    detail: z.string(),
    field: z
      .string()
      .optional()
      .meta({ description: 'The offending field as a dotted path, or a header name.' }),
  })
  .register(apiSchemas, { id: 'Problem' });

export const healthResponseSchema = z
  .object({ status: z.literal('ok') })
  .register(apiSchemas, { id: 'Health' });

// ---------------------------------------------------------------------------------------------
// Batches

/** A batch item as parsed: the transfer, or what refused it (and the item as sent). */
export type TransferBatchItem =
  | { readonly ok: true; readonly transfer: SubmitTransferBody }
  | { readonly ok: false; readonly issues: readonly z.core.$ZodIssue[]; readonly input: unknown };

/**
 * One item of a batch: validated on its own, so a bad item is answered in its place instead of
 * refusing the batch. It parses to the item or to the issues that refused it; the OpenAPI
 * document describes it as a `SubmitTransferRequest`.
 */
const transferBatchItemSchema = submitTransferBodySchema
  // A batch queues plain transfers; a hold is submitted on its own (POST /v1/transfers), where its
  // timeout, post and void have their contract.
  .refine((transfer) => transfer.pending !== true, {
    message: 'is not taken in a batch: submit a pending transfer with POST /v1/transfers',
    path: ['pending'],
  })
  .transform((transfer): TransferBatchItem => ({ ok: true, transfer }))
  .catch((context): TransferBatchItem => ({ ok: false, issues: context.error.issues, input: context.input }));

/** The largest batch body the API reads, in bytes (see docs/front-door.md, "Bulk submission"). */
export const transferBatchBodyBytesMax = 2_097_152;

export const submitTransferBatchBodySchema = z
  .strictObject({
    transfers: z
      .array(transferBatchItemSchema)
      .min(1, 'must hold at least one transfer')
      .max(batchItemCountMax, `must hold at most ${batchItemCountMax} transfers`)
      .meta({
        description: `1 to ${batchItemCountMax} transfers (1 to ${atomicSetLegCountMax} when atomic), each validated, admitted by its debit account's velocity window and queued on its own.`,
      }),
    atomic: z
      .boolean()
      .optional()
      .meta({
        description: `true: the transfers are the legs of one atomic set, which posts in one database transaction, all or none. If one leg is refused or rejected, every leg is, the failing one with its own reason and the others with linked_transfer_failed. At most ${atomicSetLegCountMax} legs, any accounts and currencies. Default false.`,
      }),
  })
  .register(apiSchemas, { id: 'SubmitTransferBatchRequest' });

export type SubmitTransferBatchBody = z.output<typeof submitTransferBatchBodySchema>;

const transferBatchItemResponseSchema = z
  .object({
    index: z.int().meta({ description: "The item's position in the request, from 0." }),
    status: z.enum(['queued', 'refused']),
    id: uuidOutSchema
      .optional()
      .meta({ description: 'The transfer id, when queued: the same for every repeat of the request.' }),
    problem: problemResponseSchema.optional().meta({
      description:
        'Why the item was refused: 400 validation (the field is named from the request root, `transfers.3.amount`), 429 velocity_exceeded, or, in an atomic batch, 422 linked_transfer_failed (another item was refused, so this one was too). Nothing of a refused item was queued or counted.',
    }),
    retry_after_s: z.int().nullable().optional().meta({
      description:
        'For velocity_exceeded: whole seconds until the window admits the item; null when the amount alone is over the limit.',
    }),
  })
  .register(apiSchemas, { id: 'TransferBatchItem' });

export const transferBatchResponseSchema = z
  .object({
    batch_id: uuidOutSchema.nullable().meta({
      description:
        "Names the batch (its item 0's transfer id) for GET /v1/transfers/batch/{id}; null when the batch was answered without being submitted (every item invalid, or an atomic batch with an invalid item).",
    }),
    atomic: z.boolean(),
    accepted_at: timestampSchema
      .nullable()
      .meta({ description: "Every queued item's accepted_at; null when no item was valid." }),
    queued_count: z.int(),
    refused_count: z.int(),
    items: z.array(transferBatchItemResponseSchema).meta({ description: 'One per request item, in order.' }),
  })
  .register(apiSchemas, { id: 'TransferBatchAccepted' });

export type TransferBatchResponse = z.output<typeof transferBatchResponseSchema>;

export const transferBatchProgressResponseSchema = z
  .object({
    batch_id: uuidOutSchema,
    posted_count: z.int().meta({ description: 'Items of the batch the ledger posted.' }),
    rejected_count: z.int().meta({ description: 'Items of the batch the ledger rejected.' }),
    recorded_count: z.int().meta({
      description:
        "posted_count + rejected_count. When it equals the batch's queued_count, every queued item is decided; until then the rest are still queued.",
    }),
  })
  .register(apiSchemas, { id: 'TransferBatchProgress' });

// ---------------------------------------------------------------------------------------------
// Admin (the System Internals page)

/** The most items one admin page holds, and how many when the client does not say. */
export const adminPageSizeMax = 200;
export const adminPageSizeDefault = 50;
const adminPaging = { pageSizeDefault: adminPageSizeDefault, pageSizeMax: adminPageSizeMax } as const;

/** A change feed position: base64url of `<transaction id>.<outbox id>`, both decimal. */
export function encodeActivityCursor(position: { transactionId: bigint; outboxId: bigint }): string {
  return Buffer.from(`${position.transactionId}.${position.outboxId}`, 'utf8').toString('base64url');
}

/** Reads an activity cursor back; undefined when it is not one this API made. */
export function decodeActivityCursor(
  cursor: string,
): { transactionId: bigint; outboxId: bigint } | undefined {
  if (!/^[A-Za-z0-9_-]{1,60}$/.test(cursor)) return undefined;
  const match = /^(0|[1-9][0-9]{0,18})\.(0|[1-9][0-9]{0,18})$/.exec(
    Buffer.from(cursor, 'base64url').toString('utf8'),
  );
  if (match === null) return undefined;
  const position = { transactionId: BigInt(match[1] ?? ''), outboxId: BigInt(match[2] ?? '') };
  if (position.transactionId > amountMax || position.outboxId > amountMax) return undefined;
  return encodeActivityCursor(position) === cursor ? position : undefined;
}

export const activityQuerySchema = z.object({
  cursor: cursorSchema(
    decodeActivityCursor,
    'The `next_cursor` of the previous answer: the changes recorded since. Omit it for the newest changes.',
  ),
  limit: pageLimitSchema('Changes', adminPaging),
});

/** The statuses the ledger records a transfer with. */
export const adminTransferStatuses = ['posted', 'rejected', 'pending', 'voided'] as const;

export const adminTransfersQuerySchema = z.object({
  status: z
    .enum(adminTransferStatuses, { error: 'must be posted, rejected, pending or voided' })
    .optional()
    .meta({ description: 'Only transfers recorded with this status.' }),
  limit: pageLimitSchema('Transfers', adminPaging),
  cursor: transferIdSchema
    .optional()
    .meta({ description: 'The `next_cursor` of the previous page: transfers older than it.' }),
});

const adminTransferSchema = z
  .object({
    id: uuidOutSchema,
    kind: transferKindSchema,
    status: z.enum([...adminTransferStatuses, 'expired']).meta({
      description:
        'As recorded; in the activity feed, a pending transfer appears again as expired when it expires.',
    }),
    reason: z.string().nullable(),
    debit_account_id: uuidOutSchema.nullable(),
    credit_account_id: uuidOutSchema.nullable(),
    amount: amountOutSchema.nullable(),
    currency: z.string().nullable(),
    accepted_at: timestampSchema,
    processed_at: timestampSchema,
    event_published_at: timestampSchema
      .nullable()
      .optional()
      .meta({ description: 'When its event was published; null while it waits in the outbox.' }),
  })
  .register(apiSchemas, { id: 'AdminTransfer' });

export const activityResponseSchema = z
  .object({
    items: z.array(adminTransferSchema).meta({
      description:
        'Transfers recorded (or whose event was published) since the cursor, in the order the changes committed. A transfer appears again when its event is published.',
    }),
    next_cursor: z.string().meta({ description: 'Pass it back to read the changes after these.' }),
  })
  .register(apiSchemas, { id: 'ActivityPage' });

export type ActivityResponse = z.output<typeof activityResponseSchema>;

export const adminTransferPageResponseSchema = z
  .object({
    items: z.array(adminTransferSchema),
    next_cursor: z.string().nullable(),
  })
  .register(apiSchemas, { id: 'AdminTransferPage' });

export type AdminTransferPageResponse = z.output<typeof adminTransferPageResponseSchema>;

const queueDepthSchema = z
  .object({
    visible: z.int().meta({ description: 'Messages waiting to be received.' }),
    in_flight: z.int().meta({ description: 'Messages received and not yet deleted (a batch in progress).' }),
    delayed: z.int(),
  })
  .nullable()
  .meta({ description: 'SQS GetQueueAttributes (approximate); null when the queue could not be read.' });

export const gaugesResponseSchema = z
  .object({
    generated_at: timestampSchema,
    transfers_queue: queueDepthSchema,
    transfers_dead_letter_queue: queueDepthSchema,
    throughput: z.object({
      window_s: z.int(),
      per_second: z.array(z.int()).meta({
        description: 'Transfers recorded (posted or rejected) in each second of the window, oldest first.',
      }),
      truncated: z.boolean(),
    }),
    batches: z
      .object({
        batch_count: z.int(),
        transfer_count_avg: z.number(),
        transfer_count_max: z.int(),
        duration_ms_p50: z.number(),
        duration_ms_p95: z.number(),
        duration_ms_max: z.number(),
        recent: z.array(
          z.object({ finished_at: timestampSchema, transfer_count: z.int(), duration_ms: z.number() }),
        ),
      })
      .nullable()
      .meta({ description: 'The newest consumer batches; null until a batch has been recorded.' }),
    fraud_flag_count: z
      .int()
      .nullable()
      .meta({ description: 'Transfers flagged by the fraud scorer; null until fraud scoring is installed.' }),
  })
  .register(apiSchemas, { id: 'Gauges' });

export type GaugesResponse = z.output<typeof gaugesResponseSchema>;

/** One violation `ledger.check_invariants()` reports. */
export const invariantViolationSchema = z
  .object({
    invariant: z.string().meta({ examples: ['transfer_has_one_event'] }),
    subject: z.string().meta({ description: 'What it is about: a transfer, account or entry id.' }),
    detail: z.string(),
  })
  .register(apiSchemas, { id: 'InvariantViolation' });

/** `GET /v1/admin/invariants?full=true`: the whole-ledger check instead of the incremental one. */
export const invariantsQuerySchema = z.object({
  full: z
    .enum(['true', 'false'], { error: 'must be true or false' })
    .optional()
    .transform((value) => value === 'true')
    .meta({
      description:
        '`true`: run `ledger.check_invariants()` over the whole ledger (reads every row; for tests and after load runs). Otherwise one run of the incremental checker, which checks what changed since its last run.',
    }),
});

/** What the incremental checker did in the run the request made. */
export const invariantCheckRunSchema = z
  .object({
    stopped_by: z.enum(['caught-up', 'entry-count', 'step-count', 'time-budget']).meta({
      description:
        '`caught-up` when every final entry has been checked; otherwise the limit the run reached.',
    }),
    entries_checked: z.number().int().meta({ description: 'New journal entries this run checked.' }),
    accounts_checked: z
      .number()
      .int()
      .meta({ description: 'Accounts this run compared with their entries.' }),
    entries_scrubbed: z
      .number()
      .int()
      .meta({ description: 'Already-checked entries this run checked again.' }),
    entry_id_checked: z
      .string()
      .meta({ description: 'Every journal entry up to this id has been checked (a decimal string).' }),
    entry_backlog: z
      .string()
      .meta({ description: 'Entry ids left for the next run (a decimal string; "0" when caught up).' }),
  })
  .register(apiSchemas, { id: 'InvariantCheckRun' });

/**
 * The check found nothing: the answer of a sound ledger. A ledger with violations answers 500
 * `invariants-violated`, the violations in the problem's `violations`.
 */
export const invariantsResponseSchema = z
  .object({
    checked_at: timestampSchema,
    mode: z.enum(['incremental', 'full']),
    violations: z
      .array(invariantViolationSchema)
      .max(0)
      .meta({ description: 'Always empty in a 200 answer; violations answer 500.' }),
    run: invariantCheckRunSchema
      .optional()
      .meta({ description: 'What the incremental run did; absent for `full=true`.' }),
  })
  .register(apiSchemas, { id: 'InvariantsHold' });

export type InvariantsResponse = z.output<typeof invariantsResponseSchema>;

/** The most entries one verification step checks, and how many when the client does not say. */
export const verificationEntryCountMax = 100_000;
export const verificationEntryCountDefault = 10_000;

export const ledgerVerificationQuerySchema = z.object({
  after_entry_id: z
    .string()
    .regex(/^(0|[1-9][0-9]{0,18})$/, 'must be an entry id, a whole number as a decimal string')
    .transform((value) => BigInt(value))
    .pipe(z.bigint().max(amountMax, 'must be an entry id'))
    .optional()
    .meta({
      description:
        'Check the links after this sealed entry: 0 (the default) for the start of the chain, else the `next_after_entry_id` of the previous answer.',
    }),
  limit: z
    .string()
    .regex(/^[1-9][0-9]{0,5}$/, `must be a whole number from 1 to ${verificationEntryCountMax}`)
    .transform((value) => Number.parseInt(value, 10))
    .pipe(z.int().min(1).max(verificationEntryCountMax, `must be at most ${verificationEntryCountMax}`))
    .optional()
    .meta({
      description: `Links (entries) checked by this call: 1 to ${verificationEntryCountMax}, ${verificationEntryCountDefault} by default.`,
    }),
});

export const ledgerVerificationResponseSchema = z
  .object({
    status: z
      .enum(['ok', 'broken'])
      .meta({ description: 'ok: every link checked holds; broken: see `broken`.' }),
    checked_count: z.int().meta({ description: 'Links checked by this call.' }),
    after_entry_id: z.string(),
    last_entry_id: z.string().nullable().meta({ description: 'The last entry whose link held.' }),
    last_hash: z.string().meta({ description: 'The SHA-256 of that link, in hex.' }),
    next_after_entry_id: z.string().nullable().meta({
      description:
        'Where the next call goes on (`after_entry_id`); null when this call reached the head or found a break.',
    }),
    head: z.object({
      sealed_through_entry_id: z.string().meta({ description: 'Every entry up to this id is sealed.' }),
      sealed_count: z.string(),
      hash: z.string().meta({ description: "The chain's head hash, in hex, as its head row records it." }),
      sealed_at: timestampSchema.nullable(),
    }),
    broken: z
      .object({
        entry_id: z.string(),
        reason: z.enum(['entry_changed', 'entry_missing', 'entry_not_sealed', 'head_changed']),
      })
      .nullable()
      .meta({ description: 'The first broken link, and what was found there.' }),
  })
  .register(apiSchemas, { id: 'LedgerVerification' });

export type LedgerVerificationResponse = z.output<typeof ledgerVerificationResponseSchema>;

/** A file of the built dashboard: one path segment of safe characters. */
export const dashboardAssetPathSchema = z.object({
  file: z
    .string()
    .regex(/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/, 'must be a file name of the built dashboard')
    .meta({ description: 'A file of the built dashboard, as its page names it.' }),
});
