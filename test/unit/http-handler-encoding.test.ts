import { Logger } from '@aws-lambda-powertools/logger';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { httpHandler } from '../../shared/handlers/http';
import { apiEvent } from '../support/api';

const handler = httpHandler({
  name: 'POST /echo',
  logger: new Logger({ serviceName: 'test', logLevel: 'SILENT' }),
  body: z.strictObject({ name: z.string() }),
  handle: async ({ body }) => ({ status: 200, body: { hello: body.name } }),
});

/** A body API Gateway passes base64-encoded (a binary media type), as raw bytes. */
function base64Event(bytes: Buffer) {
  return {
    ...apiEvent({ method: 'POST', resource: '/echo' }),
    body: bytes.toString('base64'),
    isBase64Encoded: true,
  };
}

describe('the HTTP wrapper, given a body that is not UTF-8', () => {
  it.each([
    ['a lone continuation byte', [0x80]],
    ['an overlong slash', [0xc0, 0xaf]],
    ['an encoded surrogate', [0xed, 0xa0, 0x80]],
    ['a cut-off sequence', [0xe2, 0x82]],
    ['a byte UTF-8 never uses', [0xff]],
  ])('refuses %s inside a string as malformed JSON, rather than reading U+FFFD', async (_case, bytes) => {
    const body = Buffer.concat([Buffer.from('{"name":"ada'), Buffer.from(bytes), Buffer.from('"}')]);

    const response = await handler(base64Event(body));

    expect(response.statusCode).toBe(400);
    expect(JSON.parse(response.body)).toMatchObject({
      type: 'https://ledgerx.dev/problems/malformed-json',
      detail: 'the request body is not valid UTF-8',
    });
  });

  it('refuses a byte-order mark before the JSON, as it does in a text body', async () => {
    const body = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"name":"ada"}')]);

    const response = await handler(base64Event(body));

    expect(response.statusCode).toBe(400);
    expect(JSON.parse(response.body)).toMatchObject({ type: 'https://ledgerx.dev/problems/malformed-json' });
  });

  it('reads valid UTF-8 in a base64 body as the text it is', async () => {
    const response = await handler(base64Event(Buffer.from('{"name":"Ada 😀 é"}')));

    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body)).toEqual({ hello: 'Ada 😀 é' });
  });
});
