import {
  postPendingTransferBodySchema,
  transferAcceptedResponseSchema,
  transferPathSchema,
} from '../shared/api/schemas';
import { transferAcceptedView } from '../shared/api/views';
import { defineHttpFunction } from '../shared/definitions';
import { requiredHeader } from '../shared/handlers/http';
import { UnauthorizedProblem } from '../shared/handlers/problem';
import { idempotencyKeyHeader, submissionProblem, submissionProblems } from '../shared/handlers/submission';
import { submissionTimeoutMs } from '../shared/services/transfer-submission';

/**
 * POST /v1/transfers/{id}/post: posts a pending transfer, all of it or the amount given (the rest
 * is released), through a transfer of its own (`post_pending`, naming it in `pending_id`), queued
 * behind it in its debit account's message group. The ledger answers `posted` or why not.
 */
export default defineHttpFunction({
  name: 'post-pending-transfer',
  method: 'POST',
  path: '/v1/transfers/{id}/post',
  request: {
    path: transferPathSchema,
    body: postPendingTransferBodySchema,
    bodyOptional: true,
    headers: [idempotencyKeyHeader],
  },
  operation: {
    operationId: 'postPendingTransfer',
    summary: 'Post a pending transfer, in full or in part (idempotent per Idempotency-Key)',
    success: {
      status: 202,
      schema: transferAcceptedResponseSchema,
      description:
        'The post is queued behind the pending transfer; GET /v1/transfers/{its id} says whether it posted (or pending_transfer_not_found, _not_pending, _already_posted, _already_voided, _expired, exceeds_pending_transfer_amount, …).',
    },
    problems: submissionProblems,
  },
  access: [
    { kind: 'database' },
    { kind: 'queue-send', queue: 'transfers' },
    { kind: 'table-read-write', table: 'idempotency' },
  ],
  limits: { timeoutS: submissionTimeoutMs / 1000, memoryMiB: 512 },
  build: ({ services }) => ({
    handle: async ({ path, body, headers, apiKeyId }) => {
      if (apiKeyId === undefined) throw new UnauthorizedProblem('the request carries no API key identity');
      const transfer = await services.transferSubmission.submitReferring(
        {
          apiKeyId,
          idempotencyKey: requiredHeader(headers, idempotencyKeyHeader.name, idempotencyKeyHeader.schema),
        },
        { kind: 'post_pending', referenceId: path.id, amount: body.amount, metadata: body.metadata ?? {} },
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
