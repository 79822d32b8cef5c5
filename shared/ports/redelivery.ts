/** A received queue message whose next delivery should wait, and how long (0: none). */
export interface PostponedMessage {
  readonly receiptHandle: string;
  readonly delayS: number;
}

/**
 * Postpones the next delivery of messages a consumer received and could not process.
 * `postpone` hides each message for its delay from now and returns how many the queue refused
 * (their receipt handles had expired). It throws `TransientError` when the queue could not be
 * told at all. A message it did not postpone comes back after the queue's own visibility
 * timeout, which is safe, only sooner.
 */
export interface MessageRedelivery {
  postpone(messages: readonly PostponedMessage[]): Promise<{ readonly refusedCount: number }>;
  /**
   * The receive count after which the queue, as it is configured, moves a message to its
   * dead-letter queue; undefined when it has none. Throws `TransientError` when the queue cannot
   * be asked.
   */
  maxReceiveCount(): Promise<number | undefined>;
}
