/**
 * Problem details (RFC 9457): every error the API answers is `application/problem+json`
 * `{type, title, status, detail, field?}`. Handlers throw a `ProblemError`; the HTTP wrapper turns
 * it, or any other error, into a response, so no handler builds an error body by hand.
 */
import { LedgerError } from '../errors';

/** Where the problem types live; each type is this base plus a short slug. */
export const problemTypeBase = 'https://ledgerx.dev/problems/';

export const problemContentType = 'application/problem+json';

/** The body of an error response. */
export interface ProblemDetails {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  /** The offending request field as a dotted path (`flags.debits_must_not_exceed_credits`), or a header name. */
  readonly field?: string;
}

/**
 * The base of the errors that carry their own HTTP answer. It extends `LedgerError` so the
 * errors of the whole code base still share one root and are told apart with `instanceof`.
 */
export class ProblemError extends LedgerError {
  public readonly status: number;
  public readonly slug: string;
  public readonly title: string;
  public readonly field: string | undefined;
  /** Response headers the problem needs (`Retry-After`). */
  public readonly headers: Readonly<Record<string, string>>;

  public constructor(
    problem: {
      status: number;
      slug: string;
      title: string;
      detail: string;
      field?: string;
      headers?: Readonly<Record<string, string>>;
    },
    options: { cause?: unknown; context?: Record<string, unknown> } = {},
  ) {
    super(problem.detail, options);
    this.name = 'ProblemError';
    this.status = problem.status;
    this.slug = problem.slug;
    this.title = problem.title;
    this.field = problem.field;
    this.headers = problem.headers ?? {};
  }

  /** The body the client receives: only what was written for clients, never a stack or a cause. */
  public toProblem(): ProblemDetails {
    return {
      type: `${problemTypeBase}${this.slug}`,
      title: this.title,
      status: this.status,
      detail: this.message,
      ...(this.field === undefined ? {} : { field: this.field }),
    };
  }
}

/** A request field (or header, or path or query parameter) has a value the API does not take. */
export class ValidationProblem extends ProblemError {
  public constructor(detail: string, field?: string) {
    super({
      status: 400,
      slug: 'validation',
      title: 'Invalid request',
      detail,
      ...(field === undefined ? {} : { field }),
    });
    this.name = 'ValidationProblem';
  }
}

/** The body is not JSON at all; no field can be named. */
export class MalformedJsonProblem extends ProblemError {
  public constructor(detail: string, options: { cause?: unknown } = {}) {
    super({ status: 400, slug: 'malformed-json', title: 'Malformed JSON', detail }, options);
    this.name = 'MalformedJsonProblem';
  }
}

/** The body is larger than the API reads. */
export class PayloadTooLargeProblem extends ProblemError {
  public constructor(bytes: number, bytesMax: number) {
    super({
      status: 413,
      slug: 'payload-too-large',
      title: 'Payload too large',
      detail: `the request body is ${bytes} bytes; at most ${bytesMax} are accepted`,
    });
    this.name = 'PayloadTooLargeProblem';
  }
}

/** The request carries no API key identity (API Gateway, or the local front door, sets one). */
export class UnauthorizedProblem extends ProblemError {
  public constructor(detail: string) {
    super({ status: 401, slug: 'unauthorized', title: 'Unauthorized', detail });
    this.name = 'UnauthorizedProblem';
  }
}

/** The resource the path names does not exist. */
export class NotFoundProblem extends ProblemError {
  public constructor(detail: string) {
    super({ status: 404, slug: 'not-found', title: 'Not found', detail });
    this.name = 'NotFoundProblem';
  }
}

/** Another request with the same idempotency key is being processed right now. */
export class ConflictProblem extends ProblemError {
  public constructor(detail: string, options: { cause?: unknown } = {}) {
    super({ status: 409, slug: 'conflict', title: 'Request in progress', detail }, options);
    this.name = 'ConflictProblem';
  }
}

/** The idempotency key was used before with a different request body. */
export class IdempotencyKeyReusedProblem extends ProblemError {
  public constructor(detail: string, options: { cause?: unknown } = {}) {
    super(
      {
        status: 422,
        slug: 'idempotency-key-reused',
        title: 'Idempotency key reused',
        detail,
        field: 'Idempotency-Key',
      },
      options,
    );
    this.name = 'IdempotencyKeyReusedProblem';
  }
}

/**
 * The transfer would pass its debit account's velocity limit. `retryAfterS` (whole seconds until
 * the window admits it) becomes the Retry-After header; without it the transfer never fits.
 */
export class VelocityExceededProblem extends ProblemError {
  public constructor(detail: string, retryAfterS: number | undefined, options: { cause?: unknown } = {}) {
    super(
      {
        status: 429,
        slug: 'velocity_exceeded',
        title: 'Velocity limit exceeded (velocity_exceeded)',
        detail,
        field: 'debit_account_id',
        ...(retryAfterS === undefined ? {} : { headers: { 'retry-after': String(retryAfterS) } }),
      },
      options,
    );
    this.name = 'VelocityExceededProblem';
  }
}

/** A dependency (database, queue, table) failed in a way that may pass; the request may be retried. */
export class ServiceUnavailableProblem extends ProblemError {
  public constructor(detail: string, options: { cause?: unknown } = {}) {
    super({ status: 503, slug: 'service-unavailable', title: 'Service unavailable', detail }, options);
    this.name = 'ServiceUnavailableProblem';
  }
}

/**
 * A transfer submission whose outcome is not known: the answer of the queue, or the handler's
 * time, ran out after the transfer may have been queued. Retrying under the same Idempotency-Key
 * gives the definite answer (the same transfer if it was queued, never a second one); Retry-After
 * says when a retry no longer finds the first attempt in progress.
 */
export class SubmissionOutcomeUnknownProblem extends ProblemError {
  public constructor(retryAfterS: number, options: { cause?: unknown; detail?: string } = {}) {
    super(
      {
        status: 503,
        slug: 'submission-outcome-unknown',
        title: 'Submission outcome unknown',
        detail:
          options.detail ??
          'the transfer may have been queued; retry with the same Idempotency-Key and body for the definite answer',
        headers: { 'retry-after': String(retryAfterS) },
      },
      options,
    );
    this.name = 'SubmissionOutcomeUnknownProblem';
  }
}

/**
 * The ledger's invariant check found violations: the ledger is not sound. The violations travel
 * in the problem's `violations` member (an RFC 9457 extension), at most as many as were read.
 */
export class InvariantsViolatedProblem extends ProblemError {
  public constructor(
    public readonly violations: readonly {
      readonly invariant: string;
      readonly subject: string;
      readonly detail: string;
    }[],
    public readonly truncated: boolean,
    /** Who found them, for the problem's detail. */
    foundBy = 'ledger.check_invariants()',
  ) {
    super({
      status: 500,
      slug: 'invariants-violated',
      title: 'Ledger invariants violated',
      detail: `${foundBy} found ${truncated ? 'more than ' : ''}${violations.length} violations`,
    });
    this.name = 'InvariantsViolatedProblem';
  }

  public override toProblem(): ProblemDetails & {
    readonly violations: readonly { invariant: string; subject: string; detail: string }[];
    readonly truncated: boolean;
  } {
    return { ...super.toProblem(), violations: this.violations, truncated: this.truncated };
  }
}

/** Anything else: a bug. The client learns nothing about it but that it happened. */
export class InternalProblem extends ProblemError {
  public constructor(options: { cause?: unknown } = {}) {
    super(
      {
        status: 500,
        slug: 'internal',
        title: 'Internal error',
        detail: 'the request failed; it has been logged',
      },
      options,
    );
    this.name = 'InternalProblem';
  }
}

/** A closed account takes no freeze or unfreeze: closing is final. */
export class AccountClosedProblem extends ProblemError {
  public constructor(detail: string) {
    super({ status: 409, slug: 'account-closed', title: 'Account closed', detail });
    this.name = 'AccountClosedProblem';
  }
}

/** An account closes only with a posted balance of zero and nothing pending. */
export class AccountNotClosableProblem extends ProblemError {
  public constructor(detail: string) {
    super({ status: 409, slug: 'account-not-closable', title: 'Account cannot be closed', detail });
    this.name = 'AccountNotClosableProblem';
  }
}
