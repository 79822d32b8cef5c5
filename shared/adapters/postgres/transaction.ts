import type pg from 'pg';
import { classifyDatabaseError } from './errors';

/**
 * Runs `work` in one READ COMMITTED transaction on a pooled connection; any error rolls it back.
 * Errors of the database come out classified (`TransientError`, `PermanentError`) with
 * `context`; LedgerX's own errors come out as they are. A connection whose rollback failed is in
 * an unknown state, so it is destroyed rather than handed out again.
 */
export async function inTransaction<Result>(
  pool: pg.Pool,
  context: Readonly<Record<string, unknown>>,
  work: (client: pg.PoolClient) => Promise<Result>,
): Promise<Result> {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    throw classifyDatabaseError(error, { ...context });
  }
  let broken = false;
  try {
    await client.query('begin isolation level read committed');
    const result = await work(client);
    await client.query('commit');
    return result;
  } catch (error) {
    await client.query('rollback').catch(() => {
      broken = true;
    });
    throw classifyDatabaseError(error, { ...context });
  } finally {
    client.release(broken);
  }
}
