import { topology } from '../infra/topology';
import { PowertoolsIdempotencyGuard } from '../shared/adapters/aws/idempotency-guard';
import { SubmissionRecords } from '../shared/adapters/aws/submission-records';
import { SqsTransferQueue } from '../shared/adapters/aws/transfer-queue';
import { DynamoVelocityStore } from '../shared/adapters/aws/velocity-store';
import { idempotencyKeySchema, submitTransferBodySchema } from '../shared/api/schemas';
import { transferAcceptedView } from '../shared/api/views';
import { type Dependencies, lazyHandler } from '../shared/config';
import { formatMinorUnits } from '../shared/domain/money';
import { velocityLimitsFromEnv } from '../shared/domain/velocity';
import { type ApiHandler, HandlerTimeoutError, httpHandler, requiredHeader } from '../shared/http/handler';
import {
  ConflictProblem,
  IdempotencyKeyReusedProblem,
  type ProblemError,
  SubmissionOutcomeUnknownProblem,
  UnauthorizedProblem,
  VelocityExceededProblem,
} from '../shared/http/problem';
import {
  IdempotencyKeyReusedError,
  SubmissionInProgressError,
  TransferQueueOutcomeUnknownError,
  VelocityExceededError,
} from '../shared/ports/submission';
import { TransferSubmission } from '../shared/services/transfer-submission';
import { VelocityService } from '../shared/services/velocity';

/** The table layout Powertools writes its records in (the topology's idempotency table). */
const idempotencyTable = topology.tables.idempotency;
/**
 * How long an attempt holds its key: the function's timeout, after which it is surely gone. A
 * client told the outcome is unknown is asked to wait that long, so its retry is not answered 409.
 */
const inProgressMsMax = topology.functions.submitTransfer.timeoutS * 1000;
/** The submission's calls end this long before the function's timeout: time to clean up and answer. */
const answerMarginMs = 1_500;

/**
 * POST /v1/transfers: validates the body and the Idempotency-Key header (bad input never reaches
 * the idempotency store), then submits the transfer and answers 202 with it as queued.
 */
export function createHandler(dependencies: Dependencies): ApiHandler {
  const now = dependencies.now ?? (() => new Date());
  const submission = new TransferSubmission({
    budgetMs: inProgressMsMax - answerMarginMs,
    guard: new PowertoolsIdempotencyGuard({
      records: new SubmissionRecords({
        dynamo: dependencies.dynamo,
        tableName: dependencies.resources.idempotencyTable,
        keyAttribute: idempotencyTable.partitionKey,
        expiryAttribute: idempotencyTable.ttlAttribute,
        now,
      }),
      inProgressMsMax,
      logger: dependencies.logger,
    }),
    velocity: new VelocityService({
      store: new DynamoVelocityStore(dependencies.dynamo, dependencies.resources.velocityTable),
      defaults: dependencies.velocity ?? velocityLimitsFromEnv(),
      logger: dependencies.logger,
      now,
    }),
    queue: new SqsTransferQueue(dependencies.sqs, dependencies.resources.transfersQueueUrl),
    logger: dependencies.logger,
    now,
  });
  return httpHandler({
    name: 'POST /v1/transfers',
    logger: dependencies.logger,
    body: submitTransferBodySchema,
    handle: async ({ body, headers, apiKeyId }) => {
      const idempotencyKey = requiredHeader(headers, 'Idempotency-Key', idempotencyKeySchema);
      // API Gateway (and the local front door) always set it on a route that needs a key.
      if (apiKeyId === undefined) throw new UnauthorizedProblem('the request carries no API key identity');
      const transfer = await submission.submit(
        { apiKeyId, idempotencyKey },
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
  });
}

function mapError(error: unknown): ProblemError | undefined {
  // The transfer may be queued: a 503 of its own, never "unavailable", which says nothing was.
  if (error instanceof HandlerTimeoutError) {
    return new SubmissionOutcomeUnknownProblem(Math.ceil(inProgressMsMax / 1000), { cause: error });
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

export const handler = lazyHandler('submit-transfer', createHandler);
