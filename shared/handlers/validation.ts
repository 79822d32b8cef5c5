import type { z } from 'zod';
import { ValidationProblem } from './problem';

/**
 * The first issue of a failed zod parse as a 400 problem naming the field: a dotted path from
 * the root of what was parsed (`flags.debits_must_not_exceed_credits`; a path or query
 * parameter's name). An unknown key is named by its own path, so the client learns which key
 * to drop.
 */
export function problemFromZodError(error: z.ZodError): ValidationProblem {
  const issue = error.issues[0];
  if (issue === undefined) return new ValidationProblem('the request is invalid');
  const path = issue.path.map(String);
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0] ?? '';
    const field = [...path, key].join('.');
    return new ValidationProblem(`${field} is not a known field`, field);
  }
  if (path.length === 0) return new ValidationProblem(`the request body is invalid: ${issue.message}`);
  const field = path.join('.');
  // The input is in the issue only when the parse was asked to report it (the HTTP wrapper does).
  if (issue.code === 'invalid_type' && 'input' in issue && issue.input === undefined) {
    return new ValidationProblem(`${field} is required`, field);
  }
  return new ValidationProblem(`${field}: ${issue.message}`, field);
}
