// Bearer tokens that services check (the api's data requesters, the keyring's gateways). A token
// is 32 random bytes, so a plain SHA-256 of it is enough to store: there is nothing to guess a
// dictionary for, and only the hash is ever written down.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { z } from 'zod';

/** SHA-256 of a token, hex: what a token file holds. */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/**
 * A token file's JSON text (`{ "version": 1, "tokens": { <holder id>: <hex SHA-256> } }`, written
 * by scripts/setup-secrets.ts) parsed with its schema, or an error naming the file and every
 * problem: paths and expectations only, never the hashes.
 */
export function parseTokenFile<S extends z.ZodType>(text: string, schema: S, name: string): z.infer<S> {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    throw new Error(`The ${name} is not JSON; regenerate it with scripts/setup-secrets.ts.`);
  }
  const parsed = schema.safeParse(document);
  if (!parsed.success) throw new Error(`Invalid ${name}:\n${parsed.error.issues.map((i) => `  - ${i.path.join('.') || '(root)'}: ${i.message}`).join('\n')}`);
  return parsed.data;
}

/**
 * A check of Authorization headers against token hashes (hex SHA-256): the holder of the token a
 * header presents, or undefined. Every hash is compared, so the time taken does not tell which
 * one matched.
 */
export function bearerTokenCheck<T>(holders: ReadonlyArray<{ hash: string; holder: T }>): (authorization: string | undefined) => T | undefined {
  const entries = holders.map(({ hash, holder }) => ({ hash: Buffer.from(hash, 'hex'), holder }));
  return (authorization) => {
    const match = /^Bearer +([A-Za-z0-9._~+/-]{16,512}=*)$/i.exec(authorization?.trim() ?? '');
    if (!match) return undefined;
    const presented = Buffer.from(tokenHash(match[1]!), 'hex');
    let found: T | undefined;
    for (const entry of entries) {
      if (timingSafeEqual(entry.hash, presented)) found ??= entry.holder;
    }
    return found;
  };
}
