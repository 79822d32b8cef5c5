/**
 * The functions' login: the Postgres role every function connects as, a member of `ledgerx_app`
 * (migration 0001) and of nothing else, owning nothing, with no attribute beyond LOGIN. Migrations
 * run as the tables' owner; the functions never do, so the grants and triggers of the migrations
 * bind them. On AWS the migration function makes the login from its Secrets Manager secret on
 * every deploy; locally the runtime makes it at start.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import pg from 'pg';

/** The role that holds the functions' privileges (migration 0001); the login is its member. */
export const applicationRole = 'ledgerx_app';

/** The login's name, wherever LedgerX makes it. */
export const functionLoginName = 'ledgerx_app_user';

/**
 * The local runtime's login, and the LocalStack flavour's. A fixed password: the local Postgres
 * listens on the loopback interface and its superuser's password is the fixed `postgres`, so a
 * generated one would guard nothing that one leaves open, and one server is shared by several
 * runtimes at once (the test suite starts one per file), each of which would reset a generated
 * password under the others' open connections.
 */
export const localFunctionLogin: DatabaseLogin = {
  user: functionLoginName,
  password: 'ledgerx-local-only',
};

/** A user name and its password. */
export interface DatabaseLogin {
  readonly user: string;
  readonly password: string;
}

/** The login exists with something it may not have; a person must look before it is used. */
export class FunctionLoginRefusedError extends Error {
  public constructor(user: string, problems: readonly string[]) {
    super(`the functions' login ${user} ${problems.join('; ')}`);
    this.name = 'FunctionLoginRefusedError';
  }
}

const rolePattern = /^[a-z_][a-z0-9_]{0,62}$/;
/** Printable ASCII: SASLprep leaves it as it is, so the verifier below is the one Postgres makes. */
const passwordPattern = /^[\x21-\x7e]{16,128}$/;
const scramIterationCount = 4096;
/** Concurrent runtimes on one server may change the same catalog row at once; they try again. */
const attemptCountMax = 5;
const retryDelayMs = 100;

/**
 * The SCRAM-SHA-256 verifier of a password, as Postgres stores it. The role is made with the
 * verifier rather than the password, so the password never reaches the server's logs or
 * statement statistics.
 */
export function scramVerifier(password: string, salt: Buffer = randomBytes(16)): string {
  const salted = pbkdf2Sync(password, salt, scramIterationCount, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${scramIterationCount}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

/**
 * Makes the login, or brings it up to date: it may log in with `login.password`, is a member of
 * ledgerx_app, and holds no other role attribute. Throws `FunctionLoginRefusedError` when the
 * role exists with what this will not take away silently (another membership, an object it owns,
 * superuser, CREATEROLE, CREATEDB, replication, BYPASSRLS): that was done by hand, and a person
 * must decide. `client` connects as the tables' owner (or a superuser).
 */
export async function ensureFunctionLogin(client: pg.ClientBase, login: DatabaseLogin): Promise<void> {
  if (!rolePattern.test(login.user))
    throw new RangeError(`login name ${JSON.stringify(login.user)} is not allowed`);
  if (!passwordPattern.test(login.password)) {
    throw new RangeError('the login password must be 16 to 128 printable ASCII characters');
  }
  const role = pg.escapeIdentifier(login.user);
  const verifier = pg.escapeLiteral(scramVerifier(login.password));
  for (let attempt = 1; ; attempt += 1) {
    try {
      const { rows } = await client.query<{ present: boolean }>(
        'select exists (select 1 from pg_roles where rolname = $1) as present',
        [login.user],
      );
      if (rows[0]?.present === true) {
        // Only what the login needs is set: a non-superuser owner may not name SUPERUSER and the
        // like even to take them away, so those are checked below instead.
        await client.query(`alter role ${role} with login inherit password ${verifier}`);
      } else {
        await client.query(`create role ${role} with login inherit password ${verifier}`);
      }
      await client.query(`grant ${pg.escapeIdentifier(applicationRole)} to ${role}`);
      break;
    } catch (error) {
      if (attempt >= attemptCountMax || !isConcurrentCatalogChange(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, retryDelayMs * attempt));
    }
  }
  const problems = await loginProblems(client, login.user);
  if (problems.length > 0) throw new FunctionLoginRefusedError(login.user, problems);
}

/** What the login has that it may not have; empty when it is as it must be. */
export async function loginProblems(client: pg.ClientBase, user: string): Promise<string[]> {
  const { rows } = await client.query<{
    rolsuper: boolean;
    rolcreaterole: boolean;
    rolcreatedb: boolean;
    rolreplication: boolean;
    rolbypassrls: boolean;
    rolinherit: boolean;
    rolcanlogin: boolean;
    memberships: string[];
    owned_count: number;
  }>(
    `select r.rolsuper, r.rolcreaterole, r.rolcreatedb, r.rolreplication, r.rolbypassrls, r.rolinherit,
            r.rolcanlogin,
            array(select g.rolname::text from pg_auth_members m join pg_roles g on g.oid = m.roleid
                   where m.member = r.oid order by 1) as memberships,
            (select count(*)::int from pg_shdepend d
              where d.refclassid = 'pg_authid'::regclass and d.refobjid = r.oid and d.deptype = 'o') as owned_count
       from pg_roles r where r.rolname = $1`,
    [user],
  );
  const row = rows[0];
  if (row === undefined) return ['does not exist'];
  const problems: string[] = [];
  for (const [attribute, held] of [
    ['SUPERUSER', row.rolsuper],
    ['CREATEROLE', row.rolcreaterole],
    ['CREATEDB', row.rolcreatedb],
    ['REPLICATION', row.rolreplication],
    ['BYPASSRLS', row.rolbypassrls],
  ] as const) {
    if (held) problems.push(`has ${attribute}`);
  }
  if (!row.rolinherit || !row.rolcanlogin) problems.push('must have LOGIN and INHERIT');
  const others = row.memberships.filter((name) => name !== applicationRole);
  if (others.length > 0) problems.push(`is a member of ${others.join(', ')} besides ${applicationRole}`);
  if (!row.memberships.includes(applicationRole)) problems.push(`is not a member of ${applicationRole}`);
  if (row.owned_count > 0) problems.push(`owns ${row.owned_count} object(s)`);
  return problems;
}

/**
 * Two sessions changed the same role at once (`tuple concurrently updated`, XX000) or made it at
 * once (a duplicate, 42710 or 23505): the next attempt finds it made.
 */
function isConcurrentCatalogChange(error: unknown): boolean {
  const code =
    typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string'
      ? error.code
      : undefined;
  return code === 'XX000' || code === '42710' || code === '23505';
}

/** The connection string for the same server and database, as `login`. */
export function urlWithLogin(url: string, login: DatabaseLogin): string {
  const parsed = new URL(url);
  parsed.username = encodeURIComponent(login.user);
  parsed.password = encodeURIComponent(login.password);
  return parsed.toString();
}
