/**
 * Reading `pg` rows: int8 columns arrive as strings (pg does not guess a JavaScript type for
 * them), so they become bigint here, once, and nowhere else.
 */

/** An int8 column's text as a bigint; anything else is a bug in the query. */
export function int8(value: unknown, column: string): bigint {
  if (typeof value !== 'string' || !/^-?[0-9]{1,19}$/.test(value)) {
    throw new Error(`assertion failed: ${column} must be an int8 as text, got ${String(value)}`);
  }
  return BigInt(value);
}

/** A timestamptz column (pg parses it to a Date) as an ISO 8601 string in UTC. */
export function timestamp(value: unknown, column: string): string {
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) {
    throw new Error(`assertion failed: ${column} must be a timestamp, got ${String(value)}`);
  }
  return value.toISOString();
}

/** A nullable timestamptz column. */
export function timestampOrNull(value: unknown, column: string): string | null {
  return value === null ? null : timestamp(value, column);
}
