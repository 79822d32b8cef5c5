import { Logger } from '@aws-lambda-powertools/logger';
import { dashboardAssetPathSchema } from '../shared/api/schemas';
import type { Dependencies } from '../shared/config';
import type { ApiHandler } from '../shared/http/handler';
import { dashboardDirectory, staticFileHandler } from '../shared/http/static-files';
import { problemFromZodError } from '../shared/http/validation';

/** GET /admin/system/assets/{file}: the page's scripts and styles (content-hashed, cached for long). */
export function createHandler(
  dependencies: Pick<Dependencies, 'logger'>,
  directory: string = dashboardDirectory(),
): ApiHandler {
  return staticFileHandler({
    name: 'GET /admin/system/assets/{file}',
    logger: dependencies.logger,
    directory: `${directory}/assets`,
    fileOf: (event) => {
      const parsed = dashboardAssetPathSchema.safeParse(event.pathParameters ?? {}, { reportInput: true });
      if (!parsed.success) throw problemFromZodError(parsed.error);
      return parsed.data.file;
    },
  });
}

/** The Lambda entry point; it reads files shipped beside it, nothing from the environment. */
export const handler = createHandler({ logger: new Logger({ serviceName: 'admin-assets' }) });
