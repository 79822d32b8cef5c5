import {
  reverseTransferBodySchema,
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
 * POST /v1/transfers/{id}/reverse: moves a posted transfer's money back, all of it or the amount
 * given, through a transfer of its own (`reversal`, naming it in `reverses`, the accounts
 * swapped), counted in its debit account's velocity window and queued behind the reversed
 * transfer in that transfer's debit account's message group. The ledger answers `posted` or why
 * not (transfer_not_found, transfer_not_posted, exceeds_reversible_amount, exceeds_credits, …).
 */
export default defineHttpFunction({
  name: 'reverse-transfer',
  method: 'POST',
  path: '/v1/transfers/{id}/reverse',
  request: {
    path: transferPathSchema,
    body: reverseTransferBodySchema,
    bodyOptional: true,
    headers: [idempotencyKeyHeader],
  },
  operation: {
    operationId: 'reverseTransfer',
    summary: 'Reverse a posted transfer, in full or in part (idempotent per Idempotency-Key)',
    success: {
      status: 202,
      schema: transferAcceptedResponseSchema,
      description:
        'The reversal is queued behind the transfer it reverses; GET /v1/transfers/{its id} says whether it posted.',
    },
    problems: [...submissionProblems, 429],
  },
  access: [
    { kind: 'database' },
    { kind: 'queue-send', queue: 'transfers' },
    { kind: 'table-read-write', table: 'idempotency' },
    { kind: 'table-read-write', table: 'velocity' },
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
        { kind: 'reversal', referenceId: path.id, amount: body.amount, metadata: body.metadata ?? {} },
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
