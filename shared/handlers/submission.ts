/**
 * What the submission routes (a transfer, the post or void of a pending one, a reversal) share:
 * the Idempotency-Key header they all take, and how the submission's errors become problems.
 */

import { idempotencyKeySchema } from '../api/schemas';
import { formatMinorUnits } from '../domain/money';
import {
  IdempotencyKeyReusedError,
  SubmissionInProgressError,
  TransferQueueOutcomeUnknownError,
  VelocityExceededError,
} from '../ports/submission';
import { submissionTimeoutMs } from '../services/transfer-submission';
import { HandlerTimeoutError } from './http';
import {
  ConflictProblem,
  IdempotencyKeyReusedProblem,
  type ProblemError,
  SubmissionOutcomeUnknownProblem,
  VelocityExceededProblem,
} from './problem';

export const idempotencyKeyHeader = { name: 'Idempotency-Key', schema: idempotencyKeySchema } as const;

/** The problems every submission route documents, besides its own. */
export const submissionProblems = [400, 401, 409, 413, 422, 503] as const;

/** The submission's own errors as problems; undefined for the errors the wrapper maps itself. */
export function submissionProblem(error: unknown): ProblemError | undefined {
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
