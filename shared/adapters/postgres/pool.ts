import pg from 'pg';

/** Connection limits for one process (one Lambda instance holds one pool). */
export interface PoolLimits {
  /** Connections this process may hold; a Lambda instance runs one batch at a time. */
  readonly connectionCountMax: number;
  /** How long to wait for a new connection before giving up. */
  readonly connectTimeoutMs: number;
  /** How long one query may take, measured by the client (no session-level SET is needed). */
  readonly queryTimeoutMs: number;
  /** How long an unused connection is kept open. */
  readonly idleTimeoutMs: number;
}

export const defaultPoolLimits: PoolLimits = {
  connectionCountMax: 2,
  connectTimeoutMs: 5_000,
  queryTimeoutMs: 10_000,
  idleTimeoutMs: 60_000,
};

/**
 * A server reached with a password read when a connection opens (RDS Proxy with credentials in
 * Secrets Manager): the password is never in the environment, and a rotated one is picked up.
 */
export interface PasswordTarget {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  readonly password: () => Promise<string>;
  /** RDS Proxy requires TLS; its certificates are publicly trusted, so Node's CAs verify them. */
  readonly tls: boolean;
}

/** Where a pool connects: a connection string (local, LocalStack) or a password target (AWS). */
export type DatabaseTarget = string | PasswordTarget;

/**
 * Creates a small pool suited to Lambda and RDS Proxy: created once outside the handler, a
 * connection or two, client-side timeouts, and no session state that would pin a proxied session.
 */
export function createPool(target: DatabaseTarget, limits: PoolLimits = defaultPoolLimits): pg.Pool {
  const pool = new pg.Pool({
    ...(typeof target === 'string'
      ? { connectionString: target }
      : {
          host: target.host,
          port: target.port,
          database: target.database,
          user: target.user,
          password: target.password,
          ssl: target.tls,
        }),
    max: limits.connectionCountMax,
    connectionTimeoutMillis: limits.connectTimeoutMs,
    query_timeout: limits.queryTimeoutMs,
    idleTimeoutMillis: limits.idleTimeoutMs,
    application_name: 'ledgerx',
  });
  // An idle connection that breaks (a database restart, a failover) must not crash the process;
  // the pool drops it and the next checkout opens a new one.
  pool.on('error', () => undefined);
  return pool;
}
