/**
 * How each function is bundled: esbuild (the project's own, no Docker), ES modules for Node.js 22
 * on arm64, the AWS SDK bundled at the versions the lockfile pins, and the topology's
 * `bundledAssets` directories copied beside the bundle.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type * as lambdaNodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import { OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';

/** The repository root: where `package-lock.json`, `functions/` and the asset folders are. */
export const projectRoot = path.resolve(import.meta.dirname, '../..');

/** Shell-quotes a path for the hook commands (paths with spaces or quotes stay one word). */
function quote(value: string): string {
  return `'${value.replaceAll("'", "'\\''")}'`;
}

/**
 * The directories a function reads at run time, checked at synth (a typo fails `cdk synth`, not
 * the first invocation).
 */
export function assetDirectories(bundledAssets: readonly string[] = []): string[] {
  return bundledAssets.map((relative) => {
    const normalized = path.normalize(relative);
    if (path.isAbsolute(normalized) || normalized.startsWith('..')) {
      throw new Error(`bundled asset ${relative} must be a directory inside the project`);
    }
    const absolute = path.join(projectRoot, normalized);
    if (!existsSync(absolute) || !statSync(absolute).isDirectory()) {
      throw new Error(`bundled asset ${relative} is not a directory of the project`);
    }
    return normalized;
  });
}

/** A hash of the files under the directories, so a change to them changes the template. */
export function assetsFingerprint(directories: readonly string[]): string {
  const hash = createHash('sha256');
  const walk = (relative: string): void => {
    for (const entry of readdirSync(path.join(projectRoot, relative), { withFileTypes: true }).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      const child = path.join(relative, entry.name);
      if (entry.isDirectory()) walk(child);
      else if (entry.isFile())
        hash
          .update(child)
          .update('\0')
          .update(readFileSync(path.join(projectRoot, child)));
    }
  };
  for (const directory of directories) walk(directory);
  return hash.digest('hex');
}

export function bundlingOptions(bundledAssets: readonly string[] | undefined): lambdaNodejs.BundlingOptions {
  const directories = assetDirectories(bundledAssets);
  return {
    format: OutputFormat.ESM,
    target: 'node22',
    platform: 'node',
    minify: true,
    sourceMap: true,
    mainFields: ['module', 'main'],
    // CommonJS dependencies (pg) call require() for Node's built-ins; an ES module has none.
    banner:
      "import { createRequire as __createRequire } from 'node:module';const require = __createRequire(import.meta.url);",
    // pg loads these only when asked to (native bindings, Cloudflare sockets); Lambda never does.
    externalModules: ['pg-native', 'cloudflare:sockets'],
    forceDockerBundling: false,
    commandHooks: {
      beforeBundling: () => [],
      beforeInstall: () => [],
      // Each asset directory lands beside index.mjs, where the function finds it in its task root.
      afterBundling: (inputDir, outputDir) =>
        directories.map(
          (directory) =>
            `mkdir -p ${quote(path.dirname(path.join(outputDir, directory)))} && cp -R ${quote(path.join(inputDir, directory))} ${quote(path.join(outputDir, directory))}`,
        ),
    },
  };
}
