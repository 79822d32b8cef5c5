/**
 * Tidy: fails on habits that reviews keep missing, and on imports that point the wrong way
 * between layers (docs/architecture.md has the table). Prints `file:line: message` for each
 * problem and exits 1, or prints nothing and exits 0. Run with `tsx test/tidy.ts`.
 *
 * The patterns are built from parts so that this file does not match its own rules.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

type Rule = {
  readonly message: string;
  readonly applies: (file: string) => boolean;
  readonly matches: (line: string) => boolean;
};

const repositoryRoot = fileURLToPath(new URL('..', import.meta.url));
const selfPath = 'test/tidy.ts';

const productDirectories = ['shared/', 'functions/', 'infra/'];
const productCodeDirectories = ['shared/', 'functions/'];

const numberConversion = new RegExp(
  [
    '\\bparse' + 'Float\\(',
    '\\bparse' + 'Int\\(',
    '\\bNum' + 'ber\\(',
    '\\bMath\\.ro' + 'und\\(',
    '\\.to' + 'Fixed\\(',
  ].join('|'),
);
const amountWord = /amount|balance|debits|credits|total/i;
const consoleLog = new RegExp('\\bconsole\\.lo' + 'g\\b');
const fixme = new RegExp('\\bFIX' + 'ME\\b');

const rules: readonly Rule[] = [
  {
    message: 'amounts are bigint minor units: no float or number conversion on a line about an amount',
    applies: (file) => isUnder(file, productDirectories),
    matches: (line) => numberConversion.test(line) && amountWord.test(line),
  },
  {
    message: 'product code logs through the logger, not console.log',
    applies: (file) => isUnder(file, productCodeDirectories),
    matches: (line) => consoleLog.test(line),
  },
  {
    message: 'fix it now or open an issue, do not leave a FIX' + 'ME',
    applies: (file) => file !== selfPath,
    matches: (line) => fixme.test(line),
  },
];

function isUnder(file: string, directories: readonly string[]): boolean {
  return directories.some((directory) => file.startsWith(directory));
}

function listFiles(): string[] {
  const output = execFileSync(
    'git',
    ['ls-files', '-z', '--cached', '--others', '--exclude-standard', '*.ts'],
    {
      cwd: repositoryRoot,
      encoding: 'utf8',
    },
  );
  const files = output.split('\0').filter((file) => file.length > 0);
  // A tracked file deleted from the working tree is still listed by --cached; there is nothing to read.
  return [...new Set(files)].filter((file) => existsSync(`${repositoryRoot}/${file}`)).sort();
}

// ---------------------------------------------------------------------------------------------
// Layers: which way the arrows between them point.

/** The layer a repository file belongs to, or undefined for files no rule is about. */
function layerOf(file: string): string | undefined {
  if (file === 'functions/index.ts') return 'function list';
  if (file.startsWith('functions/')) return 'function';
  if (file === 'shared/wiring.ts') return 'wiring';
  for (const layer of ['domain', 'ports', 'services', 'adapters', 'api', 'handlers']) {
    if (file.startsWith(`shared/${layer}/`)) return layer;
  }
  if (file.startsWith('shared/')) return 'shared';
  if (file.startsWith('infra/cdk/')) return 'cdk';
  if (file.startsWith('infra/local/')) return 'local runtime';
  return undefined;
}

/** Packages that reach the outside world: only adapters, the wiring and infra may import them. */
const outsideWorld = /^(pg|@aws-sdk\/|@aws-lambda-powertools\/idempotency|@middy\/)/;

interface LayerRule {
  readonly message: string;
  /** Whether a file of layer `from` may not import `target` (a repository file, or a package). */
  readonly forbids: (
    from: string,
    target: { readonly file?: string; readonly layer?: string; readonly pkg?: string },
  ) => boolean;
}

const layerRules: readonly LayerRule[] = [
  {
    message: 'shared/domain imports only the domain',
    forbids: (from, target) =>
      from === 'domain' && (target.file !== undefined ? target.layer !== 'domain' : false),
  },
  {
    message:
      'services depend on the domain and ports, never on adapters, the API layer, handlers or the wiring',
    forbids: (from, target) =>
      from === 'services' &&
      target.layer !== undefined &&
      ['adapters', 'api', 'handlers', 'wiring', 'function', 'function list'].includes(target.layer),
  },
  {
    message:
      'services and the domain import no package that reaches the outside world (pg, the AWS SDK, Powertools idempotency, middy)',
    forbids: (from, target) =>
      (from === 'services' || from === 'domain' || from === 'ports') &&
      target.pkg !== undefined &&
      outsideWorld.test(target.pkg),
  },
  {
    message: 'adapters implement ports: they never import services, the API layer, handlers or the wiring',
    forbids: (from, target) =>
      from === 'adapters' &&
      target.layer !== undefined &&
      ['services', 'api', 'handlers', 'wiring'].includes(target.layer),
  },
  {
    message: 'the API layer and the handlers never import adapters or the wiring',
    forbids: (from, target) =>
      (from === 'api' || from === 'handlers') &&
      target.layer !== undefined &&
      ['adapters', 'wiring'].includes(target.layer),
  },
  {
    message: 'nothing in shared/ imports infra/ or functions/',
    forbids: (from, target) =>
      ['domain', 'ports', 'services', 'adapters', 'api', 'handlers', 'wiring', 'shared'].includes(from) &&
      target.file !== undefined &&
      (target.file.startsWith('infra/') || target.file.startsWith('functions/')),
  },
  {
    message: 'a function never imports another function (shared code goes in shared/)',
    forbids: (from, target) =>
      from === 'function' && (target.layer === 'function' || target.layer === 'function list'),
  },
  {
    message: 'functions reach adapters only through the wiring',
    forbids: (from, target) => from === 'function' && target.layer === 'adapters',
  },
  {
    message: 'the CDK app and the local runtime never import each other',
    forbids: (from, target) =>
      (from === 'cdk' && target.layer === 'local runtime') ||
      (from === 'local runtime' && target.layer === 'cdk'),
  },
];

const importPattern =
  /^\s*(?:import|export)(?:\s+type)?[^'"]*?from\s+['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]/;

/** The problems of one file's imports against the layer rules. */
function layerProblems(file: string, lines: readonly string[]): string[] {
  const from = layerOf(file);
  if (from === undefined) return [];
  const problems: string[] = [];
  lines.forEach((line, index) => {
    const match = importPattern.exec(line);
    const specifier = match?.[1] ?? match?.[2];
    if (specifier === undefined) return;
    const target = specifier.startsWith('.')
      ? (() => {
          const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(file), specifier));
          const targetFile = resolved.endsWith('.ts') ? resolved : `${resolved}.ts`;
          return { file: targetFile, layer: layerOf(targetFile) };
        })()
      : { pkg: specifier };
    for (const rule of layerRules) {
      if (rule.forbids(from, target)) problems.push(`${file}:${index + 1}: ${rule.message} (${specifier})`);
    }
  });
  // Reading the environment is the settings' and the wiring's job; the domain never does it.
  if (from === 'domain') {
    lines.forEach((line, index) => {
      if (/\bprocess\.env\b/.test(line))
        problems.push(`${file}:${index + 1}: shared/domain reads no environment`);
    });
  }
  return problems;
}

function findProblems(): string[] {
  const problems: string[] = [];
  for (const file of listFiles()) {
    const applicable = rules.filter((rule) => rule.applies(file));
    const lines = readFileSync(`${repositoryRoot}/${file}`, 'utf8').split('\n');
    problems.push(...layerProblems(file, lines));
    lines.forEach((line, index) => {
      for (const rule of applicable) {
        if (rule.matches(line)) problems.push(`${file}:${index + 1}: ${rule.message}`);
      }
    });
  }
  return problems;
}

const problems = findProblems();
if (problems.length > 0) {
  process.stderr.write(`${problems.join('\n')}\n`);
  process.exitCode = 1;
}
