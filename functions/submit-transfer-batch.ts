import { z } from 'zod';
import {
  idempotencyKeySchema,
  submitTransferBatchBodySchema,
  transferBatchBodyBytesMax,
  transferBatchResponseSchema,
} from '../shared/api/schemas';
import { type BatchItemProblem, transferBatchView } from '../shared/api/views';
import { defineHttpFunction } from '../shared/definitions';
import { atomicSetLegCountMax } from '../shared/domain/atomic-set';
import { formatMinorUnits } from '../shared/domain/money';
import { HandlerTimeoutError, requiredHeader } from '../shared/handlers/http';
import {
  ConflictProblem,
  IdempotencyKeyReusedProblem,
  type ProblemError,
  problemTypeBase,
  SubmissionOutcomeUnknownProblem,
  UnauthorizedProblem,
  ValidationProblem,
} from '../shared/handlers/problem';
import { problemFromZodError } from '../shared/handlers/validation';
import { AtomicSetTooLargeError, TransferBatchNotQueuedError } from '../shared/ports/batch-submission';
import { IdempotencyKeyReusedError, SubmissionInProgressError } from '../shared/ports/submission';
import { type BatchItemRequest, batchSubmissionTimeoutMs } from '../shared/services/batch-submission';

const idempotencyKeyHeader = { name: 'Idempotency-Key', schema: idempotencyKeySchema } as const;

/**
 * POST /v1/transfers/batch: 1 to 1,000 transfers under one Idempotency-Key. Each item is validated
 * on its own; the valid ones are admitted by their debit accounts' velocity windows and queued.
 * Answers 202 with, per item and in order, its transfer id (`queued`) or its problem (`refused`);
 * a repeat of the same request answers the same. With `"atomic": true` (at most 100 items) the
 * items are the legs of one set: all queued as one message and posted together, or all refused.
 */
export default defineHttpFunction({
  name: 'submit-transfer-batch',
  method: 'POST',
  path: '/v1/transfers/batch',
  request: {
    body: submitTransferBatchBodySchema,
    headers: [idempotencyKeyHeader],
    bodyBytesMax: transferBatchBodyBytesMax,
  },
  operation: {
    operationId: 'submitTransferBatch',
    summary: 'Submit up to 1,000 transfers at once (idempotent per Idempotency-Key)',
    success: {
      status: 202,
      schema: transferBatchResponseSchema,
      description:
        'Every item was decided: queued under its transfer id, or refused with its own problem (a bad item never refuses the others). A repeat of the same request under the same key answers the same.',
    },
    problems: [400, 401, 409, 413, 422, 503],
  },
  access: [
    { kind: 'queue-send', queue: 'transfers' },
    { kind: 'table-read-write', table: 'idempotency' },
    { kind: 'table-read-write', table: 'velocity' },
  ],
  // An attempt holds its idempotency key for as long as the function may run, so the two agree.
  limits: { timeoutS: batchSubmissionTimeoutMs / 1000, memoryMiB: 1024 },
  build: ({ services }) => ({
    handle: async ({ body, headers, apiKeyId }) => {
      // API Gateway (and the local front door) always set it on a route that needs a key.
      if (apiKeyId === undefined) throw new UnauthorizedProblem('the request carries no API key identity');
      const invalid = new Map<number, BatchItemProblem>();
      const items = body.transfers.map((item, index): BatchItemRequest => {
        if (!item.ok) {
          invalid.set(index, itemProblem(index, item.issues));
          return { kind: 'invalid', input: item.input };
        }
        const { transfer } = item;
        return {
          kind: 'valid',
          transfer: {
            debitAccountId: transfer.debit_account_id,
            creditAccountId: transfer.credit_account_id,
            amount: transfer.amount,
            currency: transfer.currency,
            metadata: transfer.metadata ?? {},
          },
        };
      });
      const atomic = body.atomic ?? false;
      if (atomic && items.length > atomicSetLegCountMax) {
        throw new ValidationProblem(
          `transfers: an atomic batch holds at most ${atomicSetLegCountMax} transfers`,
          'transfers',
        );
      }
      const result = await services.transferBatchSubmission.submit(
        {
          apiKeyId,
          idempotencyKey: requiredHeader(headers, idempotencyKeyHeader.name, idempotencyKeyHeader.schema),
        },
        items,
        { atomic },
      );
      return { status: 202, body: transferBatchView(result, atomic, invalid, velocityProblem) };
    },
    mapError,
  }),
});

/** An invalid item's problem, its field named from the request's root (`transfers.3.amount`). */
function itemProblem(index: number, issues: readonly z.core.$ZodIssue[]): BatchItemProblem {
  const rooted = issues.map((issue) => ({ ...issue, path: ['transfers', index, ...issue.path] }));
  return problemFromZodError(new z.ZodError(rooted)).toProblem();
}

/** A refused item's problem, worded as the single route words its 429. */
function velocityProblem(
  index: number,
  outcome: {
    readonly limit: 'transfer_count' | 'amount';
    readonly retryAfterS: number | undefined;
    readonly windowS: number;
    readonly transferCountMax: number;
    readonly amountMax: bigint | undefined;
  },
): BatchItemProblem {
  const limit =
    outcome.limit === 'amount'
      ? `at most ${formatMinorUnits(outcome.amountMax ?? 0n)} minor units`
      : `at most ${outcome.transferCountMax} transfers`;
  const when =
    outcome.retryAfterS === undefined
      ? 'this amount alone is over the limit'
      : `its window admits it in ${outcome.retryAfterS} s; submit it again in a new batch, under a new key`;
  return {
    type: `${problemTypeBase}velocity_exceeded`,
    title: 'Velocity limit exceeded (velocity_exceeded)',
    status: 429,
    detail: `transfers.${index}: the debit account may send ${limit} within ${outcome.windowS} s; ${when}`,
    field: `transfers.${index}.debit_account_id`,
  };
}

function mapError(error: unknown): ProblemError | undefined {
  if (error instanceof AtomicSetTooLargeError) {
    return new ValidationProblem(
      `transfers: an atomic batch travels as one queue message of at most ${error.messageBytesMax} bytes; these transfers, with their metadata, take ${error.messageBytes}`,
      'transfers',
    );
  }
  // Some items may have been queued: a 503 of its own, never "unavailable", which says none was.
  if (error instanceof HandlerTimeoutError) {
    return new SubmissionOutcomeUnknownProblem(batchSubmissionTimeoutMs / 1000, {
      cause: error,
      detail: batchOutcomeUnknown,
    });
  }
  // The attempt's record was released, keeping what it decided: a retry may come at once.
  if (error instanceof TransferBatchNotQueuedError) {
    return new SubmissionOutcomeUnknownProblem(1, { cause: error, detail: batchOutcomeUnknown });
  }
  if (error instanceof SubmissionInProgressError) {
    return new ConflictProblem('a request with this Idempotency-Key is in progress; retry later', {
      cause: error,
    });
  }
  if (error instanceof IdempotencyKeyReusedError) {
    return new IdempotencyKeyReusedProblem('this Idempotency-Key was used with a different request body', {
      cause: error,
    });
  }
  return undefined;
}

const batchOutcomeUnknown =
  'some transfers of the batch may have been queued; retry with the same Idempotency-Key and body: the retry queues the rest under the same transfer ids and answers every item';
