import path from 'node:path';
import { defineHttpFunction } from '../shared/definitions';
import { dashboardAssets, staticFile } from '../shared/handlers/static-files';

/**
 * GET /admin/system: the System Internals page (the built dashboard's index.html). The page is
 * public; the data it shows comes from the `/v1/admin` routes, which need the API key.
 */
export default defineHttpFunction({
  name: 'admin-page',
  method: 'GET',
  path: '/admin/system',
  apiKeyRequired: false,
  request: {},
  operation: {
    operationId: 'getSystemInternalsPage',
    summary: 'The System Internals page (HTML; its data needs the API key)',
    success: { status: 200, schema: 'HtmlPage', description: 'The page.', contentType: 'text/html' },
    problems: [503],
  },
  access: [],
  limits: { timeoutS: 5, memoryMiB: 256 },
  bundledAssets: [dashboardAssets],
  build: ({ assetRoot }) => ({
    handle: async () => ({ raw: await staticFile(path.join(assetRoot, dashboardAssets), 'index.html') }),
  }),
});
