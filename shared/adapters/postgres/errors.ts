import { InvalidDataError, PermanentError, TransientError } from '../../errors';

/** SQLSTATEs after which the whole transaction is simply run again. */
const retryableSqlStates: ReadonlySet<string> = new Set(['40001', '40P01']);

/**
 * SQLSTATE classes and codes that mean "not now": connection trouble, a server going down or
 * starting, resource exhaustion, a cancelled statement, lock timeouts; and a deploy that is not
 * in place yet, which passes when it is, for every record alike: the login refused (28: the
 * migration has not made it yet, or its password is being rotated), the database, schema, table
 * or function missing (3D000, 3F000, 42P01, 42883: not migrated yet), a privilege missing (42501:
 * the grants of a migration not applied yet). None of these is the record's fault, so none may
 * send a record to the dead-letter queue ahead of the rest of its account's transfers.
 */
const transientSqlStatePrefixes = ['08', '28', '53', '57', '58'];
const transientSqlStates: ReadonlySet<string> = new Set([
  '55P03',
  '55006',
  '3D000',
  '3F000',
  '42501',
  '42P01',
  '42883',
]);

/** Network-level error codes from Node's socket layer. */
const transientNetworkCodes: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

function codeOf(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') {
    return error.code;
  }
  return undefined;
}

/** Whether this error is a serialization failure or deadlock that a fresh transaction may avoid. */
export function isRetryable(error: unknown): boolean {
  const code = codeOf(error);
  return code !== undefined && retryableSqlStates.has(code);
}

/** Whether `ledger.post_transfers` lost its bet that the batch's ids were new (SQLSTATE LX001). */
export function isTakenIdBet(error: unknown): boolean {
  return codeOf(error) === 'LX001';
}

/**
 * Wraps an error from `pg` into LedgerX's two kinds: transient (the same work may succeed later)
 * or permanent (it will not). An error with no SQLSTATE comes from the client side (a refused or
 * broken connection, a connect or query timeout) and is transient, unless it is a JavaScript
 * error raised by code, which is a bug.
 */
export function classifyDatabaseError(error: unknown, context: Record<string, unknown>): Error {
  if (error instanceof TransientError || error instanceof PermanentError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof TypeError || error instanceof RangeError || error instanceof SyntaxError) {
    return new PermanentError(`bug while talking to the database: ${message}`, { cause: error, context });
  }
  const code = codeOf(error);
  const isSqlState = code !== undefined && /^[0-9A-Z]{5}$/.test(code) && !transientNetworkCodes.has(code);
  if (
    !isSqlState ||
    transientSqlStates.has(code) ||
    retryableSqlStates.has(code) ||
    transientSqlStatePrefixes.some((prefix) => code.startsWith(prefix))
  ) {
    return new TransientError(`database unavailable: ${message}`, {
      cause: error,
      context: { ...context, code },
    });
  }
  if (code.startsWith('22')) {
    return new InvalidDataError(`database refused the data: ${message}`, {
      cause: error,
      context: { ...context, code },
    });
  }
  return new PermanentError(`database refused the work: ${message}`, {
    cause: error,
    context: { ...context, code },
  });
}
