/** How patiently migrations wait for a database that does not take connections yet. */
export interface ConnectPatience {
  /** Connection attempts before giving up. */
  readonly connectAttemptCountMax: number;
  readonly connectRetryDelayMs: number;
}

/**
 * The database's schema. `migrate` applies the migrations of `directory` that are not applied
 * yet, in order, and returns the names applied now and how many the directory holds. Connecting
 * is retried within `patience`; the last connection error is thrown when it runs out.
 */
export interface DatabaseMigrations {
  migrate(
    directory: string,
    patience: ConnectPatience,
  ): Promise<{ readonly applied: readonly string[]; readonly knownCount: number }>;
}
