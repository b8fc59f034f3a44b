// Which gateways may ask the keyring for pseudonyms, and how they prove it: one bearer token per
// gateway, of which the keyring keeps only SHA-256 hashes (secrets/keyring-gateway-tokens,
// written by scripts/setup-secrets.ts from the gateways' own keyring-token-<id> files). The same
// file format and check as the api's data-request tokens (services/api/src/requesters.ts,
// bearerTokenCheck of @lethe/config). Knowing which gateway asks is what lets the keyring give
// each its own budget, and revoke one without the others.
import { bearerTokenCheck, parseTokenFile, tokenHash } from '@lethe/config';
import { z } from 'zod';

/** Gateway ids: names an operator gives (they appear in metrics), never secrets. */
export const GATEWAY_ID_PATTERN = /^[a-z][a-z0-9-]{0,62}$/;

/** The token file: gateway id → hex SHA-256 of its token. */
export const GatewayTokensSchema = z.strictObject({
  version: z.literal(1),
  tokens: z.record(z.string().regex(GATEWAY_ID_PATTERN, 'must be a lower-case id like gateway-2'), z.string().regex(/^[0-9a-f]{64}$/, 'must be a hex SHA-256')),
});
export type GatewayTokens = z.infer<typeof GatewayTokensSchema>;

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
  const file = parseTokenFile(text, GatewayTokensSchema, 'keyring gateway token file');
  const entries = Object.entries(file.tokens).map(([id, hash]) => ({ hash, holder: id }));
  if (entries.length === 0) throw new Error('The keyring gateway token file lists no gateway; run scripts/setup-secrets.ts.');
  return { gateways: entries.map((e) => e.holder), authenticate: bearerTokenCheck(entries) };
}
