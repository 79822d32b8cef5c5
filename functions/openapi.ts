import { Logger } from '@aws-lambda-powertools/logger';
import { openApiDocument } from '../shared/api/openapi';
import type { Dependencies } from '../shared/config';
import { type ApiHandler, httpHandler } from '../shared/http/handler';

/** GET /openapi.json: the OpenAPI 3.1 document, made once per instance (it never changes). */
export function createHandler(dependencies: Pick<Dependencies, 'logger'>): ApiHandler {
  const document = openApiDocument();
  return httpHandler({
    name: 'GET /openapi.json',
    logger: dependencies.logger,
    handle: async () => ({
      status: 200,
      body: document,
      headers: { 'cache-control': 'public, max-age=300' },
    }),
  });
}

/** The Lambda entry point. It needs no database, queue or table, so it reads none from the environment. */
export const handler = createHandler({ logger: new Logger({ serviceName: 'openapi' }) });
