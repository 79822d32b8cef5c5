import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

/** Reads a secret's string value by its id or ARN. */
export type SecretReader = (secretId: string) => Promise<string>;

/** A `SecretReader` over Secrets Manager. */
export function secretsManagerReader(client: SecretsManagerClient): SecretReader {
  return async (secretId) => {
    const { SecretString } = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
    if (SecretString === undefined) throw new Error(`secret ${secretId} has no string value`);
    return SecretString;
  };
}

export interface SecretPasswordOptions {
  /**
   * How long a read password is reused. Short, so a rotated password is picked up within a
   * minute; the function is only called when the pool opens a connection, so reads stay rare.
   */
  readonly cacheMs: number;
  readonly now?: () => number;
}

export const defaultSecretPasswordOptions: SecretPasswordOptions = { cacheMs: 60_000 };

/**
 * The password of an RDS credentials secret (the JSON that RDS and Secrets Manager rotation
 * write: `{"username", "password", ...}`), read when a connection opens and cached briefly.
 */
export function secretPassword(
  read: SecretReader,
  secretId: string,
  options: SecretPasswordOptions = defaultSecretPasswordOptions,
): () => Promise<string> {
  const now = options.now ?? Date.now;
  let cached: { readonly password: string; readonly readAtMs: number } | undefined;
  return async () => {
    if (cached !== undefined && now() - cached.readAtMs < options.cacheMs) return cached.password;
    const value: unknown = JSON.parse(await read(secretId));
    const password =
      typeof value === 'object' && value !== null && 'password' in value ? value.password : undefined;
    if (typeof password !== 'string' || password === '') {
      throw new Error(`secret ${secretId} holds no password`);
    }
    cached = { password, readAtMs: now() };
    return password;
  };
}

/**
 * The user name and password of an RDS credentials secret, read once (the migration function
 * makes the functions' login from it on every deploy).
 */
export async function secretLogin(
  read: SecretReader,
  secretId: string,
): Promise<{ readonly user: string; readonly password: string }> {
  const value: unknown = JSON.parse(await read(secretId));
  const field = (name: string): unknown =>
    typeof value === 'object' && value !== null && name in value
      ? (value as Record<string, unknown>)[name]
      : undefined;
  const user = field('username');
  const password = field('password');
  if (typeof user !== 'string' || user === '' || typeof password !== 'string' || password === '') {
    throw new Error(`secret ${secretId} holds no username and password`);
  }
  return { user, password };
}
