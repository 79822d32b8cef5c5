import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import adminAssets from '../../functions/admin-assets';
import adminPage from '../../functions/admin-page';
import { dashboardAssets } from '../../shared/handlers/static-files';
import { apiEvent, parseResponse, testWiring } from '../support/api';

/**
 * The page and asset handlers over a built page of the test's own (an asset root holding a
 * dashboard/dist), so the tier needs no Vite build; the browser test loads the real one.
 */
let assetRoot: string;
let directory: string;
const pageHtml = '<!doctype html><script type="module" src="/admin/system/assets/index-1a2b3c.js"></script>';
const script = 'console.info("System Internals");';
const icon = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

beforeAll(async () => {
  assetRoot = await mkdtemp(path.join(tmpdir(), 'ledgerx-dashboard-'));
  directory = path.join(assetRoot, dashboardAssets);
  await mkdir(path.join(directory, 'assets'), { recursive: true });
  await writeFile(path.join(directory, 'index.html'), pageHtml);
  await writeFile(path.join(directory, 'assets', 'index-1a2b3c.js'), script);
  await writeFile(path.join(directory, 'assets', 'icon-4d5e6f.png'), icon);
});

afterAll(async () => {
  await rm(assetRoot, { recursive: true, force: true });
});

function getAsset(file: string) {
  return adminAssets.build(testWiring(undefined, { assetRoot }))(
    apiEvent({ method: 'GET', resource: '/admin/system/assets/{file}', pathParameters: { file } }),
  );
}

describe('the System Internals page', () => {
  it('serves the built page without a key, never cached, so a new build is seen at once', async () => {
    const page = await adminPage.build(testWiring(undefined, { assetRoot }))(
      apiEvent({ method: 'GET', resource: '/admin/system', apiKeyId: null }),
    );

    expect(page).toMatchObject({
      statusCode: 200,
      headers: {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-cache',
        'x-content-type-options': 'nosniff',
      },
      body: pageHtml,
      isBase64Encoded: false,
    });
  });

  it('serves its content-hashed assets cached for a year, binary ones base64-encoded', async () => {
    const [javascript, png] = [await getAsset('index-1a2b3c.js'), await getAsset('icon-4d5e6f.png')];

    expect(javascript).toMatchObject({
      statusCode: 200,
      headers: {
        'content-type': 'text/javascript; charset=utf-8',
        'cache-control': 'public, max-age=31536000, immutable',
      },
      body: script,
      isBase64Encoded: false,
    });
    expect(png).toMatchObject({
      statusCode: 200,
      headers: { 'content-type': 'image/png' },
      body: icon.toString('base64'),
      isBase64Encoded: true,
    });
  });

  it('refuses a path outside the build with 400 naming the field, and a missing file with 404', async () => {
    const traversal = parseResponse(await getAsset('..'));
    const missing = parseResponse(await getAsset('nope.js'));
    const unknownKind = parseResponse(await getAsset('index-1a2b3c.exe'));

    expect(traversal).toMatchObject({ status: 400, body: { field: 'file' } });
    expect(traversal.headers['content-type']).toBe('application/problem+json');
    expect(missing.status).toBe(404);
    expect(unknownKind.status).toBe(404);
  });

  it('says how to build the page when it is not built', async () => {
    const page = parseResponse(
      await adminPage.build(testWiring(undefined, { assetRoot: path.join(assetRoot, 'missing') }))(
        apiEvent({ method: 'GET', resource: '/admin/system' }),
      ),
    );

    expect(page.status).toBe(503);
    expect(String(page.body.detail)).toContain('npm run build:dashboard');
  });
});
