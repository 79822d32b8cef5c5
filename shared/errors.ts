/**
 * The base of LedgerX's infrastructure errors. Errors are told apart with `instanceof`, never by
 * their message; each keeps the error that caused it and the context needed to act on it.
 */
export class LedgerError extends Error {
  public readonly context: Readonly<Record<string, unknown>>;

  public constructor(message: string, options: { cause?: unknown; context?: Record<string, unknown> } = {}) {
    super(message, { cause: options.cause });
    this.name = 'LedgerError';
    this.context = options.context ?? {};
  }
}

/**
 * A failure that may pass: the database is unreachable, a timeout fired, or serialization
 * retries ran out. The work was not done and may be tried again as it is.
 */
export class TransientError extends LedgerError {
  public constructor(message: string, options: { cause?: unknown; context?: Record<string, unknown> } = {}) {
    super(message, options);
    this.name = 'TransientError';
  }
}

/** SERIALIZABLE conflicts kept failing the same work past its retry bound. */
export class SerializationRetriesExhaustedError extends TransientError {
  public constructor(options: { cause?: unknown; context?: Record<string, unknown> } = {}) {
    super('serialization conflicts outlasted the retry bound', options);
    this.name = 'SerializationRetriesExhaustedError';
  }
}

/**
 * A failure that will not pass by retrying the same work: a bug or broken data. The work was
 * not done; it should be isolated and reported, not retried blindly.
 */
export class PermanentError extends LedgerError {
  public constructor(message: string, options: { cause?: unknown; context?: Record<string, unknown> } = {}) {
    super(message, options);
    this.name = 'PermanentError';
  }
}

/**
 * The database refused the data itself (SQLSTATE class 22: a value out of range, text it cannot
 * store). Retrying the same record can never succeed, so it is set aside as poison.
 */
export class InvalidDataError extends PermanentError {
  public constructor(message: string, options: { cause?: unknown; context?: Record<string, unknown> } = {}) {
    super(message, options);
    this.name = 'InvalidDataError';
  }
}

/** Whether the failed work may succeed if it is tried again unchanged. */
export function isTransient(error: unknown): boolean {
  return error instanceof TransientError;
}
