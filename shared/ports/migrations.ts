/** How patiently migrations wait for a database that does not take connections yet. */
export interface ConnectPatience {
  /** Connection attempts before giving up. */
  readonly connectAttemptCountMax: number;
  readonly connectRetryDelayMs: number;
}

/**
 * The database's schema, and the login the functions connect as. Connecting is retried within
 * `patience`; the last connection error is thrown when it runs out.
 * - `migrate` applies the migrations of `directory` that are not applied yet, in order, and
 *   returns the names applied now and how many the directory holds.
 * - `ensureFunctionLogin` makes the functions' login, or brings it up to date (a member of the
 *   application role only, its password the configured one), and returns its name. Throws when
 *   no source of the login is configured, or when the login exists with a right it may not have
 *   (another role, an object it owns, superuser): that needs a person, not a deploy.
 */
export interface DatabaseMigrations {
  migrate(
    directory: string,
    patience: ConnectPatience,
  ): Promise<{ readonly applied: readonly string[]; readonly knownCount: number }>;
  ensureFunctionLogin(patience: ConnectPatience): Promise<{ readonly user: string }>;
}
