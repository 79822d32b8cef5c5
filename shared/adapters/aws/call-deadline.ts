/**
 * Deadlines for AWS calls on the submission path. A call takes the submission's signal (its
 * budget, see `TransferSubmission`), so a dead or stalled dependency fails the call before the
 * function's own timeout, retries included, and the client gets a definite answer. Clean-up calls
 * made after a failure run after the budget may be spent, so they get a short deadline of their
 * own (`cleanupCallTimeoutMs`).
 */

/** The options of `client.send` that bound the call by `signal`, when there is one. */
export function callDeadline(signal: AbortSignal | undefined): { readonly abortSignal?: AbortSignal } {
  return signal === undefined ? {} : { abortSignal: signal };
}
