import {
  transferAcceptedResponseSchema,
  transferPathSchema,
  voidPendingTransferBodySchema,
} from '../shared/api/schemas';
import { transferAcceptedView } from '../shared/api/views';
import { defineHttpFunction } from '../shared/definitions';
import { requiredHeader } from '../shared/handlers/http';
import { UnauthorizedProblem } from '../shared/handlers/problem';
import { idempotencyKeyHeader, submissionProblem, submissionProblems } from '../shared/handlers/submission';
import { submissionTimeoutMs } from '../shared/services/transfer-submission';

/**
 * POST /v1/transfers/{id}/void: releases a pending transfer's hold through a transfer of its own
 * (`void_pending`, naming it in `pending_id`), queued behind it in its debit account's message
 * group. A frozen account's holds can still be voided. The ledger answers `voided` or why not.
 */
export default defineHttpFunction({
  name: 'void-pending-transfer',
  method: 'POST',
  path: '/v1/transfers/{id}/void',
  request: {
    path: transferPathSchema,
    body: voidPendingTransferBodySchema,
    bodyOptional: true,
    headers: [idempotencyKeyHeader],
  },
  operation: {
    operationId: 'voidPendingTransfer',
    summary: 'Void a pending transfer (idempotent per Idempotency-Key)',
    success: {
      status: 202,
      schema: transferAcceptedResponseSchema,
      description:
        'The void is queued behind the pending transfer; GET /v1/transfers/{its id} says whether it voided (or pending_transfer_not_found, _not_pending, _already_posted, _already_voided, _expired).',
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
        { kind: 'void_pending', referenceId: path.id, amount: undefined, metadata: body.metadata ?? {} },
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
