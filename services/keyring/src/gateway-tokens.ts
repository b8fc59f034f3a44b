// Which gateways may ask the keyring for pseudonyms, and how they prove it: one bearer token per
// gateway, of which the keyring keeps only SHA-256 hashes (secrets/keyring-gateway-tokens,
// written by scripts/setup-secrets.ts from the gateways' own keyring-token-<id> files). The same
// file format and approach as the api's data-request tokens (services/api/src/requesters.ts): a
// token is 32 random bytes, so a plain hash suffices. Knowing which gateway asks is what lets
// the keyring give each its own budget, and revoke one without the others.
import { createHash, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';

/** Gateway ids: names an operator gives (they appear in metrics), never secrets. */
export const GATEWAY_ID_PATTERN = /^[a-z][a-z0-9-]{0,62}$/;

/** The token file: gateway id → hex SHA-256 of its token. */
export const GatewayTokensSchema = z.strictObject({
  version: z.literal(1),
  tokens: z.record(z.string().regex(GATEWAY_ID_PATTERN, 'must be a lower-case id like gateway-2'), z.string().regex(/^[0-9a-f]{64}$/, 'must be a hex SHA-256')),
});
export type GatewayTokens = z.infer<typeof GatewayTokensSchema>;

/** SHA-256 of a token, hex: what the token file holds. */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** The token file's text for some gateways' tokens (setup-secrets and tests). */
export function gatewayTokensFile(tokens: Readonly<Record<string, string>>): string {
  const file: GatewayTokens = { version: 1, tokens: Object.fromEntries(Object.entries(tokens).map(([id, token]) => [id, tokenHash(token)])) };
  return JSON.stringify(GatewayTokensSchema.parse(file), null, 2) + '\n';
}

export interface GatewayDirectory {
  readonly gateways: readonly string[];
  /** The gateway an Authorization header proves, or undefined. */
  authenticate(authorization: string | undefined): string | undefined;
}

/** A directory of gateways from the token file's JSON text; an empty one would lock every gateway out, so it is refused. */
export function createGatewayDirectory(text: string): GatewayDirectory {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    throw new Error('The keyring gateway token file is not JSON; regenerate it with scripts/setup-secrets.ts.');
  }
  const parsed = GatewayTokensSchema.safeParse(document);
  // Paths and expectations only: never the hashes.
  if (!parsed.success)
    throw new Error(`Invalid keyring gateway token file:\n${parsed.error.issues.map((i) => `  - ${i.path.join('.') || '(root)'}: ${i.message}`).join('\n')}`);
  const entries = Object.entries(parsed.data.tokens).map(([id, hash]) => ({ id, hash: Buffer.from(hash, 'hex') }));
  if (entries.length === 0) throw new Error('The keyring gateway token file lists no gateway; run scripts/setup-secrets.ts.');
  return {
    gateways: entries.map((e) => e.id),
    authenticate(authorization) {
      const match = /^Bearer +([A-Za-z0-9._~+/-]{16,512}=*)$/i.exec(authorization?.trim() ?? '');
      if (!match) return undefined;
      const presented = Buffer.from(tokenHash(match[1]!), 'hex');
      // Compare against every entry, so the time taken does not tell which one matched.
      let found: string | undefined;
      for (const entry of entries) {
        if (timingSafeEqual(entry.hash, presented)) found ??= entry.id;
      }
      return found;
    },
  };
}
