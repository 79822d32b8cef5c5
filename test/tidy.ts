/**
 * Tidy: fails on habits that reviews keep missing. Prints `file:line: message` for each problem
 * and exits 1, or prints nothing and exits 0. Run with `tsx test/tidy.ts`.
 *
 * The patterns are built from parts so that this file does not match its own rules.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
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

function findProblems(): string[] {
  const problems: string[] = [];
  for (const file of listFiles()) {
    const applicable = rules.filter((rule) => rule.applies(file));
    if (applicable.length === 0) continue;
    const lines = readFileSync(`${repositoryRoot}/${file}`, 'utf8').split('\n');
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
