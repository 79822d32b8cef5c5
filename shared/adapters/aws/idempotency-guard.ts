/**
 * The idempotency guard of the submission: Powertools' `makeIdempotent` around the submission, on
 * the DynamoDB records of `SubmissionRecords` (not the middy middleware, whose error hook deletes
 * the record even when its own before-hook refused a duplicate, upstream issue #5675, so a
 * duplicate could run twice).
 *
 * A repeat of a completed request gets the first answer; another body under the key,
 * `IdempotencyKeyReusedError`; while an attempt holds the key, `SubmissionInProgressError`. When
 * the submission throws, its record is released (see `SubmissionRecords`), keeping the transfer id
 * for the next attempt. When the submission answered but Powertools could not store the
 * completion, the answer still stands: the transfer was sent, and a 5xx would tell the client it
 * was not. The record then stays in progress until its bound, after which a retry under the key
 * takes it over and sends the same transfer id again (deduplicated).
 */
import {
  IdempotencyAlreadyInProgressError,
  IdempotencyConfig,
  IdempotencyInconsistentStateError,
  IdempotencyPersistenceLayerError,
  IdempotencyValidationError,
  makeIdempotent,
} from '@aws-lambda-powertools/idempotency';
import type { Context } from 'aws-lambda';
import { type LedgerCommand, parseLedgerMessage, toTransferMessage } from '../../domain/transfer';
import type { Logger } from '../../ports/logger';
import {
  type IdempotencyGuard,
  IdempotencyKeyReusedError,
  IdempotencyStoreUnavailableError,
  type RequestKey,
  type Reservation,
  type SubmissionAnswer,
  type SubmissionBody,
  SubmissionInProgressError,
} from '../../ports/submission';
import type { SubmissionRecords } from './submission-records';

/** How long a key answers with its first result: a day, the usual window for client retries. */
export const idempotencyWindowS = 86_400;

/** What the idempotent function is called with: JSON only, since Powertools hashes and stores it. */
interface GuardPayload {
  readonly apiKeyId: string;
  readonly idempotencyKey: string;
  readonly body: SubmissionBody;
}

export interface PowertoolsIdempotencyGuardOptions {
  readonly records: SubmissionRecords;
  /**
   * How long an attempt may hold its key before another may take it over: the function's
   * timeout, after which the first invocation is surely gone.
   */
  readonly inProgressMsMax: number;
  readonly logger: Logger;
}

export class PowertoolsIdempotencyGuard implements IdempotencyGuard {
  private readonly config: IdempotencyConfig;

  public constructor(private readonly options: PowertoolsIdempotencyGuardOptions) {
    this.config = new IdempotencyConfig({
      eventKeyJmesPath: '[apiKeyId, idempotencyKey]',
      payloadValidationJmesPath: 'body',
      throwOnNoIdempotencyKey: true,
      expiresAfterSeconds: idempotencyWindowS,
      lambdaContext: inProgressBound(options.inProgressMsMax),
    });
  }

  public async run(
    key: RequestKey,
    body: SubmissionBody,
    work: (reservation: Reservation) => Promise<SubmissionAnswer>,
    signal?: AbortSignal,
  ): Promise<LedgerCommand> {
    const { records, logger } = this.options;
    const attempt = records.newAttempt(signal);
    const outcome: { answered?: SubmissionAnswer; failed?: { readonly error: unknown } } = {};
    const runOnce = makeIdempotent(
      // Powertools calls this only once the in-progress put has reserved the key.
      async (_payload: GuardPayload): Promise<string> => {
        const { reservation } = attempt;
        if (reservation === undefined) throw new Error('assertion failed: a held key has its reservation');
        try {
          outcome.answered = await work(reservation);
        } catch (error) {
          outcome.failed = { error };
          throw error;
        }
        attempt.answer = outcome.answered;
        // Stored as text, so DynamoDB numbers never have to hold the metadata's JSON numbers.
        return JSON.stringify(toTransferMessage(outcome.answered.transfer));
      },
      {
        persistenceStore: records,
        // A fixed prefix, so the keys do not depend on the deployed function's name.
        keyPrefix: 'ledgerx.submit-transfer',
        config: this.config,
      },
    );
    let stored: string;
    try {
      stored = await records.withAttempt(attempt, () =>
        runOnce({ apiKeyId: key.apiKeyId, idempotencyKey: key.idempotencyKey, body }),
      );
    } catch (error) {
      if (outcome.answered !== undefined) {
        logger.warn('transfer queued, but its idempotency record could not be completed', {
          transferId: outcome.answered.transfer.id,
          apiKeyId: key.apiKeyId,
          error,
        });
        return outcome.answered.transfer;
      }
      if (outcome.failed !== undefined) {
        // The client's answer is the submission's failure; a record left held only delays a retry.
        if (error !== outcome.failed.error) {
          logger.warn('idempotency record not released after a failed attempt; held until its bound', {
            apiKeyId: key.apiKeyId,
            error,
          });
        }
        throw outcome.failed.error;
      }
      throw translateIdempotencyError(error);
    }
    if (outcome.answered !== undefined) return outcome.answered.transfer;
    const parsed = parseLedgerMessage(stored);
    if (!parsed.ok)
      throw new Error(`assertion failed: a stored submission answer is a transfer: ${parsed.reason}`);
    return parsed.value;
  }
}

/** Powertools' errors as the port's own, so callers need not know Powertools. */
export function translateIdempotencyError(error: unknown): unknown {
  if (error instanceof IdempotencyAlreadyInProgressError)
    return new SubmissionInProgressError({ cause: error });
  if (error instanceof IdempotencyValidationError) return new IdempotencyKeyReusedError({ cause: error });
  if (
    error instanceof IdempotencyPersistenceLayerError ||
    error instanceof IdempotencyInconsistentStateError
  ) {
    return new IdempotencyStoreUnavailableError({ cause: error });
  }
  return error;
}

/**
 * Powertools sets a record's in-progress expiry from the Lambda context's remaining time. A
 * plain function has no context, and without an expiry a record left by an invocation that died
 * would hold its key for the whole idempotency window; this fixed bound lets the key be taken
 * over once the first invocation has surely ended. Only `getRemainingTimeInMillis` is read.
 */
export function inProgressBound(inProgressMsMax: number): Context {
  const unused = (): never => {
    throw new Error('not a Lambda context');
  };
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'submit-transfer',
    functionVersion: '$LATEST',
    invokedFunctionArn: '',
    memoryLimitInMB: '0',
    awsRequestId: '',
    logGroupName: '',
    logStreamName: '',
    getRemainingTimeInMillis: () => inProgressMsMax,
    done: unused,
    fail: unused,
    succeed: unused,
  };
}
