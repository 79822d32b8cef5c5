import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';

/**
 * The Lambda context object a local invocation gets: the function's name, a fresh request id, and
 * the time left before its timeout, as Lambda would hand it over.
 */
export function lambdaContext(functionName: string, timeoutS: number, memoryMiB: number): Context {
  const deadlineMs = Date.now() + timeoutS * 1000;
  const awsRequestId = randomUUID();
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
    memoryLimitInMB: String(memoryMiB),
    awsRequestId,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: `local/${awsRequestId}`,
    getRemainingTimeInMillis: () => Math.max(0, deadlineMs - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** Thrown when an invocation outlives its function's timeout. */
export class InvocationTimeoutError extends Error {
  public constructor(functionName: string, timeoutS: number) {
    super(`${functionName} timed out after ${timeoutS} s`);
    this.name = 'InvocationTimeoutError';
  }
}

/**
 * Runs `invoke` with the function's timeout. JavaScript cannot stop the handler itself, so on
 * timeout the caller treats the invocation as failed (as Lambda does) while the promise may
 * still settle later; database transactions keep that harmless, since they commit whole or not.
 */
export async function withTimeout<T>(
  functionName: string,
  timeoutS: number,
  invoke: () => Promise<T>,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new InvocationTimeoutError(functionName, timeoutS)), timeoutS * 1000);
  });
  try {
    return await Promise.race([invoke(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
