import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NotFoundProblem } from '../../shared/handlers/problem';
import { DashboardNotBuiltProblem, staticFile } from '../../shared/handlers/static-files';

let directory: string;

beforeAll(async () => {
  directory = await mkdtemp(path.join(tmpdir(), 'ledgerx-static-'));
  await writeFile(path.join(directory, 'app.js'), 'console.info(1)');
});

afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
});

describe('static files', () => {
  it('serves a file of the directory', async () => {
    const file = await staticFile(directory, 'app.js');

    expect(file.statusCode).toBe(200);
    expect(file.body).toBe('console.info(1)');
  });

  it('answers a missing index.html in a built directory with 404, not "not built"', async () => {
    await expect(staticFile(directory, 'index.html')).rejects.toBeInstanceOf(NotFoundProblem);
  });

  it('says the dashboard is not built when its directory is missing', async () => {
    await expect(staticFile(path.join(directory, 'missing'), 'index.html')).rejects.toBeInstanceOf(
      DashboardNotBuiltProblem,
    );
    await expect(staticFile(path.join(directory, 'missing'), 'app.js')).rejects.toBeInstanceOf(
      DashboardNotBuiltProblem,
    );
  });
});
