import { openApiDocument } from '../shared/api/openapi';
import { type Dependencies, lazyHandler } from '../shared/config';
import { type ApiHandler, httpHandler } from '../shared/http/handler';

/** GET /openapi.json: the OpenAPI 3.1 document, made once per instance (it never changes). */
export function createHandler(dependencies: Dependencies): ApiHandler {
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

export const handler = lazyHandler('openapi', createHandler);
