/**
 * Builds the System Internals page (`dashboard/dist`) when it is missing or older than its
 * sources, so `npm start` and the tests always serve the page the source describes. The deployed
 * stack ships the directory as it is (`bundledAssets`); its build runs `npm run build:dashboard`.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

/** The repository root. */
const projectRoot = path.resolve(import.meta.dirname, '..');

const dashboardRoot = path.join(projectRoot, 'dashboard');
const builtPage = path.join(dashboardRoot, 'dist', 'index.html');

/** The newest modification time (ms) of the files the build reads. */
function newestSourceMs(): number {
  const sources = [
    path.join(dashboardRoot, 'index.html'),
    path.join(dashboardRoot, 'vite.config.ts'),
    path.join(projectRoot, 'package-lock.json'),
    ...listFiles(path.join(dashboardRoot, 'src')),
  ];
  return Math.max(...sources.filter((file) => existsSync(file)).map((file) => statSync(file).mtimeMs));
}

function listFiles(directory: string): string[] {
  if (!existsSync(directory)) return [];
  return readdirSync(directory, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.join(entry.parentPath, entry.name));
}

/** Whether `dashboard/dist` is missing or older than a source file. */
export function dashboardIsStale(): boolean {
  return !existsSync(builtPage) || statSync(builtPage).mtimeMs < newestSourceMs();
}

/** Runs the Vite build when the page is stale; answers whether it built. */
export async function ensureDashboardBuilt(): Promise<boolean> {
  if (!dashboardIsStale()) return false;
  // Vite is a development dependency: imported only when a build is needed.
  const { build } = await import('vite');
  await build({ configFile: path.join(dashboardRoot, 'vite.config.ts'), logLevel: 'warn' });
  return true;
}
