/**
 * What the stack builds each Lambda from: an entry file per function that hands its definition
 * to the wiring root (`lambdaHandler`), and the OpenAPI document the `openapi` function serves.
 * Both are generated from the definitions at synth into `.build/` (ignored by git), so a function
 * file holds its definition and nothing of Lambda's plumbing.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { apiDocumentAssets, apiDocumentFile, openApiDocument } from '../../shared/api/openapi';
import type { FunctionDefinition, HttpFunction } from '../../shared/definitions';
import { projectRoot } from './bundling';

/** Where the generated entries go. */
export const entriesDirectory = path.join(projectRoot, '.build', 'lambda');

/** Writes `content` unless the file already holds it, so an unchanged synth touches nothing. */
function writeIfChanged(file: string, content: string): void {
  let current: string | undefined;
  try {
    current = readFileSync(file, 'utf8');
  } catch {
    current = undefined;
  }
  if (current === content) return;
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, content);
}

/**
 * Writes the Lambda entry of a function and returns its path. A function's file is named after
 * the function (`functions/<name>.ts`); a test holds every file to that.
 */
export function writeLambdaEntry(definition: FunctionDefinition): string {
  const file = path.join(entriesDirectory, `${definition.name}.ts`);
  const definitionFile = path.relative(
    entriesDirectory,
    path.join(projectRoot, 'functions', definition.name),
  );
  const wiringFile = path.relative(entriesDirectory, path.join(projectRoot, 'shared', 'wiring'));
  writeIfChanged(
    file,
    [
      '// Generated at synth by infra/cdk/entries.ts from the function definitions; do not edit.',
      `import definition from '${definitionFile}';`,
      `import { lambdaHandler } from '${wiringFile}';`,
      '',
      'export const handler = lambdaHandler(definition);',
      '',
    ].join('\n'),
  );
  return file;
}

/** Writes the OpenAPI document of the HTTP functions where the `openapi` function ships it from. */
export function writeApiDocument(functions: readonly HttpFunction[]): void {
  writeIfChanged(
    path.join(projectRoot, apiDocumentAssets, apiDocumentFile),
    `${JSON.stringify(openApiDocument(functions), null, 2)}\n`,
  );
}
