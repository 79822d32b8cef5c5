/**
 * Serves the files of a built front end (the System Internals page) from a directory shipped
 * beside the function (`bundledAssets` in its definition). Text files go as they are; anything
 * else base64-encoded, as API Gateway expects binary bodies.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { NotFoundProblem, ProblemError } from './problem';

const contentTypes: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
};
const textExtensions: ReadonlySet<string> = new Set(['.html', '.js', '.css', '.svg', '.json']);

/**
 * The built dashboard, relative to the asset root (the project locally, the task root on Lambda,
 * where the stack ships it: the functions' `bundledAssets`).
 */
export const dashboardAssets = 'dashboard/dist';

/** The dashboard was not built (`npm run build:dashboard`). */
export class DashboardNotBuiltProblem extends ProblemError {
  public constructor(directory: string) {
    super({
      status: 503,
      slug: 'service-unavailable',
      title: 'Service unavailable',
      detail: `the dashboard is not built (no ${path.basename(directory)} directory); run npm run build:dashboard`,
    });
    this.name = 'DashboardNotBuiltProblem';
  }
}

/**
 * Reads `file` (one path segment, already validated) from `directory`. Content-hashed assets are
 * cached for a year; the page itself never, so a new build is seen at once.
 */
export async function staticFile(directory: string, file: string): Promise<APIGatewayProxyResult> {
  if (file.includes('/') || file.includes('\\') || file.startsWith('.')) {
    throw new NotFoundProblem(`no file ${file}`);
  }
  const extension = path.extname(file);
  const contentType = contentTypes[extension];
  if (contentType === undefined) throw new NotFoundProblem(`no file ${file}`);
  let content: Buffer;
  try {
    content = await readFile(path.join(directory, file));
  } catch (error) {
    if (isMissing(error)) {
      // Not built when the directory itself is missing; a file it lacks is a 404 whatever its
      // name, so the assets route asked for index.html does not claim the page is unbuilt.
      if (!(await exists(directory))) throw new DashboardNotBuiltProblem(directory);
      throw new NotFoundProblem(`no file ${file}`);
    }
    throw error;
  }
  const isText = textExtensions.has(extension);
  return {
    statusCode: 200,
    headers: {
      'content-type': contentType,
      'cache-control': file === 'index.html' ? 'no-cache' : 'public, max-age=31536000, immutable',
      'x-content-type-options': 'nosniff',
    },
    body: isText ? content.toString('utf8') : content.toString('base64'),
    isBase64Encoded: !isText,
  };
}

function isMissing(error: unknown): boolean {
  return typeof error === 'object' && error !== null && 'code' in error && error.code === 'ENOENT';
}

async function exists(directory: string): Promise<boolean> {
  try {
    await stat(directory);
    return true;
  } catch (error) {
    if (isMissing(error)) return false;
    throw error;
  }
}
