import { Logger } from '@aws-lambda-powertools/logger';
import type { Dependencies } from '../shared/config';
import type { ApiHandler } from '../shared/http/handler';
import { dashboardDirectory, staticFileHandler } from '../shared/http/static-files';

/**
 * GET /admin/system: the System Internals page (the built dashboard's index.html). The page is
 * public; the data it shows comes from the `/v1/admin` routes, which need the API key.
 */
export function createHandler(
  dependencies: Pick<Dependencies, 'logger'>,
  directory: string = dashboardDirectory(),
): ApiHandler {
  return staticFileHandler({
    name: 'GET /admin/system',
    logger: dependencies.logger,
    directory,
    fileOf: () => 'index.html',
  });
}

/** The Lambda entry point; it reads files shipped beside it, nothing from the environment. */
export const handler = createHandler({ logger: new Logger({ serviceName: 'admin-page' }) });
