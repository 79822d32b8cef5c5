import { submitTransferBodySchema, transferAcceptedResponseSchema } from '../shared/api/schemas';
import { transferAcceptedView } from '../shared/api/views';
import { defineHttpFunction } from '../shared/definitions';
import { requiredHeader } from '../shared/handlers/http';
import { UnauthorizedProblem } from '../shared/handlers/problem';
import { idempotencyKeyHeader, submissionProblem } from '../shared/handlers/submission';
import { submissionTimeoutMs } from '../shared/services/transfer-submission';

/**
 * POST /v1/transfers: validates the body and the Idempotency-Key header (bad input never reaches
 * the idempotency store), then submits the transfer (or, with `pending: true`, the hold) and
 * answers 202 with it as queued.
 */
export default defineHttpFunction({
  name: 'submit-transfer',
  method: 'POST',
  path: '/v1/transfers',
  request: { body: submitTransferBodySchema, headers: [idempotencyKeyHeader] },
  operation: {
    operationId: 'submitTransfer',
    summary: 'Submit a transfer, or a pending one (idempotent per Idempotency-Key)',
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
          ...(body.pending === true ? { pending: { timeoutS: body.timeout_s } } : {}),
        },
      );
      return {
        status: 202,
        body: transferAcceptedView(transfer),
        headers: { location: `/v1/transfers/${transfer.id}` },
      };
    },
    mapError: submissionProblem,
  }),
});
