import path from 'node:path';
import { dashboardAssetPathSchema } from '../shared/api/schemas';
import { defineHttpFunction } from '../shared/definitions';
import { dashboardAssets, staticFile } from '../shared/handlers/static-files';

/** GET /admin/system/assets/{file}: the page's scripts and styles (content-hashed, cached for long). */
export default defineHttpFunction({
  name: 'admin-assets',
  method: 'GET',
  path: '/admin/system/assets/{file}',
  apiKeyRequired: false,
  request: { path: dashboardAssetPathSchema },
  operation: {
    operationId: 'getSystemInternalsAsset',
    summary: 'A script or style sheet of the System Internals page',
    success: { status: 200, schema: 'StaticFile', description: 'The file.', contentType: '*/*' },
    problems: [400, 404],
  },
  access: [],
  limits: { timeoutS: 5, memoryMiB: 256 },
  bundledAssets: [dashboardAssets],
  build: ({ assetRoot }) => ({
    handle: async ({ path: parameters }) => ({
      raw: await staticFile(path.join(assetRoot, dashboardAssets, 'assets'), parameters.file),
    }),
  }),
});
