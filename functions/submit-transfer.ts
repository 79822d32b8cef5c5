import {
  idempotencyKeySchema,
  submitTransferBodySchema,
  transferAcceptedResponseSchema,
} from '../shared/api/schemas';
import { transferAcceptedView } from '../shared/api/views';
import { defineHttpFunction } from '../shared/definitions';
import { formatMinorUnits } from '../shared/domain/money';
import { HandlerTimeoutError, requiredHeader } from '../shared/handlers/http';
import {
  ConflictProblem,
  IdempotencyKeyReusedProblem,
  type ProblemError,
  SubmissionOutcomeUnknownProblem,
  UnauthorizedProblem,
  VelocityExceededProblem,
} from '../shared/handlers/problem';
import {
  IdempotencyKeyReusedError,
  SubmissionInProgressError,
  TransferQueueOutcomeUnknownError,
  VelocityExceededError,
} from '../shared/ports/submission';
import { submissionTimeoutMs } from '../shared/services/transfer-submission';

const idempotencyKeyHeader = { name: 'Idempotency-Key', schema: idempotencyKeySchema } as const;

/**
 * POST /v1/transfers: validates the body and the Idempotency-Key header (bad input never reaches
 * the idempotency store), then submits the transfer and answers 202 with it as queued.
 */
export default defineHttpFunction({
  name: 'submit-transfer',
  method: 'POST',
  path: '/v1/transfers',
  request: { body: submitTransferBodySchema, headers: [idempotencyKeyHeader] },
  operation: {
    operationId: 'submitTransfer',
    summary: 'Submit a transfer (idempotent per Idempotency-Key)',
    success: {
      status: 202,
      schema: transferAcceptedResponseSchema,
      description:
        'The transfer is queued for posting. A repeat of the same request under the same key answers the same.',
    },
    problems: [400, 401, 409, 413, 422, 429, 503],
  },
  access: [
    { kind: 'queue-send', queue: 'transfers' },
    { kind: 'table-read-write', table: 'idempotency' },
    { kind: 'table-read-write', table: 'velocity' },
  ],
  // An attempt holds its idempotency key for as long as the function may run, so the two agree.
  limits: { timeoutS: submissionTimeoutMs / 1000, memoryMiB: 512 },
  build: ({ services }) => ({
    handle: async ({ body, headers, apiKeyId }) => {
      // API Gateway (and the local front door) always set it on a route that needs a key.
      if (apiKeyId === undefined) throw new UnauthorizedProblem('the request carries no API key identity');
      const transfer = await services.transferSubmission.submit(
        {
          apiKeyId,
          idempotencyKey: requiredHeader(headers, idempotencyKeyHeader.name, idempotencyKeyHeader.schema),
        },
        {
          debitAccountId: body.debit_account_id,
          creditAccountId: body.credit_account_id,
          amount: body.amount,
          currency: body.currency,
          metadata: body.metadata ?? {},
        },
      );
      return {
        status: 202,
        body: transferAcceptedView(transfer),
        headers: { location: `/v1/transfers/${transfer.id}` },
      };
    },
    mapError,
  }),
});

function mapError(error: unknown): ProblemError | undefined {
  // The transfer may be queued: a 503 of its own, never "unavailable", which says nothing was.
  if (error instanceof HandlerTimeoutError) {
    return new SubmissionOutcomeUnknownProblem(submissionTimeoutMs / 1000, { cause: error });
  }
  // The attempt's record was released: a retry may come at once.
  if (error instanceof TransferQueueOutcomeUnknownError) {
    return new SubmissionOutcomeUnknownProblem(1, { cause: error });
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
  if (error instanceof VelocityExceededError) {
    const { limits } = error;
    const limit =
      error.limit === 'amount'
        ? `at most ${formatMinorUnits(limits.amountMax ?? 0n)} minor units`
        : `at most ${limits.transferCountMax} transfers`;
    const when =
      error.retryAfterS === undefined
        ? 'this amount alone is over the limit'
        : `retry after ${error.retryAfterS} s with the same Idempotency-Key`;
    return new VelocityExceededProblem(
      `the debit account may send ${limit} within ${limits.windowS} s; ${when}`,
      error.retryAfterS,
      { cause: error },
    );
  }
  return undefined;
}
