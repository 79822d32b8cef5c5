import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { TransientError } from '../../shared/errors';
import { toProblemError } from '../../shared/handlers/http';
import {
  ConflictProblem,
  MalformedJsonProblem,
  NotFoundProblem,
  ProblemError,
  ValidationProblem,
} from '../../shared/handlers/problem';
import { problemFromZodError } from '../../shared/handlers/validation';

describe('problem details', () => {
  it('writes type, title, status, detail, and field only when there is one', () => {
    expect(new ValidationProblem('amount: too large', 'amount').toProblem()).toEqual({
      type: 'https://ledgerx.dev/problems/validation',
      title: 'Invalid request',
      status: 400,
      detail: 'amount: too large',
      field: 'amount',
    });
    expect(new MalformedJsonProblem('not JSON').toProblem()).toEqual({
      type: 'https://ledgerx.dev/problems/malformed-json',
      title: 'Malformed JSON',
      status: 400,
      detail: 'not JSON',
    });
  });

  it('keeps the cause for the logs but never puts it in the body', () => {
    const cause = new Error('connect ECONNREFUSED 10.0.0.1:5432');
    const problem = new ConflictProblem('in progress', { cause });

    expect(problem.cause).toBe(cause);
    expect(JSON.stringify(problem.toProblem())).not.toContain('ECONNREFUSED');
  });

  it('is a LedgerX error, told apart with instanceof', () => {
    const problem = new NotFoundProblem('no such account');

    expect(problem).toBeInstanceOf(ProblemError);
    expect(problem).toBeInstanceOf(Error);
    expect(problem.name).toBe('NotFoundProblem');
  });
});

describe('mapping errors to problems', () => {
  it('answers a problem error as it is', () => {
    const problem = new NotFoundProblem('gone');

    expect(toProblemError(problem)).toBe(problem);
  });

  it('answers a transient failure with 503', () => {
    expect(toProblemError(new TransientError('database unavailable')).status).toBe(503);
  });

  it('answers anything else with a 500 that says nothing about it', () => {
    const problem = toProblemError(new TypeError('cannot read properties of undefined (reading "id")'));

    expect(problem.status).toBe(500);
    expect(JSON.stringify(problem.toProblem())).not.toMatch(/undefined|TypeError|\.ts/);
  });

  it('lets a route map its own errors first', () => {
    class Busy extends Error {}
    const mapped = toProblemError(new Busy(), (error) =>
      error instanceof Busy ? new ConflictProblem('busy') : undefined,
    );

    expect(mapped.status).toBe(409);
  });

  it('names the field of the first zod issue as a dotted path', () => {
    const schema = z.strictObject({ outer: z.strictObject({ inner: z.number() }) });
    const result = schema.safeParse({ outer: { inner: 'x' } });
    if (result.success) throw new Error('test: the value should be refused');

    expect(problemFromZodError(result.error).field).toBe('outer.inner');
  });

  it('names an unknown key by its own path', () => {
    const schema = z.strictObject({ outer: z.strictObject({ inner: z.number() }) });
    const result = schema.safeParse({ outer: { inner: 1, extra: true } });
    if (result.success) throw new Error('test: the value should be refused');

    expect(problemFromZodError(result.error).field).toBe('outer.extra');
  });
});
