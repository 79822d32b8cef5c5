/**
 * The idempotency guard of a batch submission: Powertools' `makeIdempotent` on the same DynamoDB
 * records as a single submission's (`SubmissionRecords`), under the key prefix
 * `ledgerx.submit-transfer-batch`, so one Idempotency-Key used for a single transfer and for a
 * batch names two requests. It behaves as `PowertoolsIdempotencyGuard` does (a repeat gets the
 * first answer, another body 422, a held key 409, a failed attempt releases the key and keeps its
 * reserved id), and besides lets the batch record its progress under the key before it sends
 * anything, which the next attempt under the key gets back with its reservation.
 */
import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import type { BatchIdempotencyGuard, ProgressRecorder } from '../../ports/batch-submission';
import type { Logger } from '../../ports/logger';
import type { RequestKey, Reservation } from '../../ports/submission';
import { idempotencyWindowS, inProgressBound, translateIdempotencyError } from './idempotency-guard';
import type { SubmissionRecords } from './submission-records';

/** What the idempotent function is called with: JSON only, since Powertools hashes and stores it. */
interface GuardPayload {
  readonly apiKeyId: string;
  readonly idempotencyKey: string;
  readonly body: unknown;
}

export interface PowertoolsBatchIdempotencyGuardOptions {
  readonly records: SubmissionRecords;
  /**
   * How long an attempt may hold its key before another may take it over: the function's
   * timeout, after which the first invocation is surely gone.
   */
  readonly inProgressMsMax: number;
  readonly logger: Logger;
}

/** The key prefix of batch records: a fixed one, so keys do not depend on the function's name. */
export const batchKeyPrefix = 'ledgerx.submit-transfer-batch';

export class PowertoolsBatchIdempotencyGuard implements BatchIdempotencyGuard {
  private readonly config: IdempotencyConfig;

  public constructor(private readonly options: PowertoolsBatchIdempotencyGuardOptions) {
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
    body: unknown,
    work: (reservation: Reservation, progress: ProgressRecorder) => Promise<string>,
    signal?: AbortSignal,
  ): Promise<string> {
    const { records, logger } = this.options;
    const attempt = records.newAttempt(signal, 'batch');
    const outcome: { answered?: string; failed?: { readonly error: unknown } } = {};
    const runOnce = makeIdempotent(
      // Powertools calls this only once the in-progress put has reserved the key.
      async (_payload: GuardPayload): Promise<string> => {
        const { reservation } = attempt;
        if (reservation === undefined) throw new Error('assertion failed: a held key has its reservation');
        const progress: ProgressRecorder = {
          record: (text, recordSignal) => records.recordProgress(attempt, text, recordSignal ?? signal),
        };
        try {
          outcome.answered = await work(reservation, progress);
        } catch (error) {
          outcome.failed = { error };
          throw error;
        }
        return outcome.answered;
      },
      { persistenceStore: records, keyPrefix: batchKeyPrefix, config: this.config },
    );
    let stored: string;
    try {
      stored = await records.withAttempt(attempt, () =>
        runOnce({ apiKeyId: key.apiKeyId, idempotencyKey: key.idempotencyKey, body }),
      );
    } catch (error) {
      if (outcome.answered !== undefined) {
        logger.warn('batch queued, but its idempotency record could not be completed', {
          apiKeyId: key.apiKeyId,
          error,
        });
        return outcome.answered;
      }
      if (outcome.failed !== undefined) {
        if (error !== outcome.failed.error) {
          logger.warn('idempotency record not released after a failed batch; held until its bound', {
            apiKeyId: key.apiKeyId,
            error,
          });
        }
        throw outcome.failed.error;
      }
      throw translateIdempotencyError(error);
    }
    return outcome.answered ?? stored;
  }
}
