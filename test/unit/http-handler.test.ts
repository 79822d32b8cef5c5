import type { Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { httpHandler, requestBodyBytesMax } from '../../shared/handlers/http';
import { NotFoundProblem, VelocityExceededProblem } from '../../shared/handlers/problem';
import type { Logger } from '../../shared/ports/logger';
import { apiEvent } from '../support/api';

/** A logger that keeps what it is told, to check what reaches the logs. */
function recordingLogger(): Logger & {
  readonly lines: { level: string; message: string; attributes: unknown[] }[];
} {
  const lines: { level: string; message: string; attributes: unknown[] }[] = [];
  const record =
    (level: string) =>
    (message: string, ...attributes: Record<string, unknown>[]) =>
      lines.push({ level, message, attributes });
  return { lines, info: record('info'), warn: record('warn'), error: record('error') };
}

const echoSchema = z.strictObject({ name: z.string() });

function echoHandler(logger: Logger, handle?: () => Promise<never>) {
  return httpHandler({
    name: 'POST /echo',
    logger,
    body: echoSchema,
    handle: handle ?? (async ({ body }) => ({ status: 200, body: { hello: body.name } })),
  });
}

/** A Lambda context with `remainingMs` left, as the runtime would pass. */
function contextWith(remainingMs: number): Context {
  const startedAtMs = Date.now();
  const fail = (): never => {
    throw new Error('not used');
  };
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'test',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:test',
    memoryLimitInMB: '128',
    awsRequestId: 'request',
    logGroupName: 'group',
    logStreamName: 'stream',
    getRemainingTimeInMillis: () => remainingMs - (Date.now() - startedAtMs),
    done: fail,
    fail,
    succeed: fail,
  };
}

describe('the HTTP wrapper', () => {
  it('hands the handler the validated body and answers JSON', async () => {
    const response = await echoHandler(recordingLogger())(
      apiEvent({ method: 'POST', resource: '/echo', body: { name: 'ada' } }),
    );

    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body)).toEqual({ hello: 'ada' });
  });

  it('reads a base64-encoded body and counts its decoded bytes against the limit', async () => {
    const handler = echoHandler(recordingLogger());
    const encoded = Buffer.from(JSON.stringify({ name: 'ada' })).toString('base64');
    const small = {
      ...apiEvent({ method: 'POST', resource: '/echo' }),
      body: encoded,
      isBase64Encoded: true,
    };
    const large = {
      ...small,
      body: Buffer.from(JSON.stringify({ name: 'x'.repeat(requestBodyBytesMax) })).toString('base64'),
    };

    expect((await handler(small)).statusCode).toBe(200);
    expect((await handler(large)).statusCode).toBe(413);
  });

  it('answers a thrown problem as problem+json and logs it at info', async () => {
    const logger = recordingLogger();
    const handler = echoHandler(logger, async () => {
      throw new NotFoundProblem('nothing here');
    });

    const response = await handler(apiEvent({ method: 'POST', resource: '/echo', body: { name: 'ada' } }));

    expect(response.statusCode).toBe(404);
    expect(response.headers?.['content-type']).toBe('application/problem+json');
    expect(logger.lines.filter((line) => line.level === 'error')).toEqual([]);
  });

  it('answers velocity_exceeded as 429 with Retry-After in whole seconds, and without it when it never fits', async () => {
    const event = apiEvent({ method: 'POST', resource: '/echo', body: { name: 'ada' } });
    const later = echoHandler(recordingLogger(), async () => {
      throw new VelocityExceededProblem('at most 5 transfers within 60 s', 41);
    });
    const never = echoHandler(recordingLogger(), async () => {
      throw new VelocityExceededProblem('at most 500 minor units within 60 s', undefined);
    });

    const retryLater = await later(event);
    const retryNever = await never(event);

    expect(retryLater.statusCode).toBe(429);
    expect(retryLater.headers).toEqual({ 'content-type': 'application/problem+json', 'retry-after': '41' });
    expect(JSON.parse(retryLater.body)).toMatchObject({
      type: 'https://ledgerx.dev/problems/velocity_exceeded',
      status: 429,
      field: 'debit_account_id',
    });
    expect(retryNever.statusCode).toBe(429);
    expect(retryNever.headers?.['retry-after']).toBeUndefined();
  });

  it('answers a bug with a bare 500 and logs the error itself, stack included', async () => {
    const logger = recordingLogger();
    const bug = new TypeError("Cannot read properties of undefined (reading 'id')");
    const handler = echoHandler(logger, async () => {
      throw bug;
    });

    const response = await handler(apiEvent({ method: 'POST', resource: '/echo', body: { name: 'ada' } }));

    expect(response.statusCode).toBe(500);
    expect(response.body).not.toMatch(/Cannot read|TypeError|\bat\b.*\.ts/);
    const logged = logger.lines.find((line) => line.level === 'error');
    expect(logged?.attributes[0]).toMatchObject({ status: 500, error: bug });
    expect(logger.lines.at(-1)).toMatchObject({ level: 'info', message: 'request' });
  });

  it('answers 503 when the invocation is about to time out', async () => {
    const handler = echoHandler(recordingLogger(), () => new Promise<never>(() => undefined));

    const response = await handler(
      apiEvent({ method: 'POST', resource: '/echo', body: { name: 'ada' } }),
      contextWith(50),
    );

    expect(response.statusCode).toBe(503);
  });
});
