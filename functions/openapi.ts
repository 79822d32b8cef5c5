import { apiDocumentAssets } from '../shared/api/openapi';
import { defineHttpFunction } from '../shared/definitions';

/** GET /openapi.json: the OpenAPI 3.1 document of the deployed functions (it never changes). */
export default defineHttpFunction({
  name: 'openapi',
  method: 'GET',
  path: '/openapi.json',
  apiKeyRequired: false,
  request: {},
  operation: {
    operationId: 'getOpenApiDocument',
    summary: 'This document',
    success: { status: 200, schema: 'OpenApiDocument', description: 'The OpenAPI 3.1 document.' },
    problems: [],
  },
  access: [],
  limits: { timeoutS: 5, memoryMiB: 256 },
  // The document, written from the definitions when the stack is synthesized.
  bundledAssets: [apiDocumentAssets],
  build: (wiring) => {
    // Made once per instance: the document is the same for every request.
    let document: unknown;
    return {
      handle: async () => {
        document ??= wiring.apiDocument();
        return { status: 200, body: document, headers: { 'cache-control': 'public, max-age=300' } };
      },
    };
  },
});
