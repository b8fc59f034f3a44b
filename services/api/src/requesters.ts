// Who may file data requests, and how they prove it. Requesters (id, name, type) come from
// seeds/requesters.yaml; their bearer tokens are never stored, only SHA-256 hashes of them
// (secrets/api-requester-tokens, written by scripts/setup-secrets.ts --issue-token), checked as
// the keyring checks its gateways' (bearerTokenCheck of @lethe/config).
import { readFileSync } from 'node:fs';
import { bearerTokenCheck, parseTokenFile } from '@lethe/config';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

export const REQUESTER_TYPES = ['police', 'court', 'researcher', 'journalist', 'city-department', 'vendor', 'resident'] as const;
export type RequesterType = (typeof REQUESTER_TYPES)[number];

const RequesterSchema = z.strictObject({
  id: z.string().regex(/^[a-z][a-z0-9-]{1,62}$/, 'must be a lower-case id like hk-police-force'),
  name: z.string().min(1).max(200),
  type: z.enum(REQUESTER_TYPES),
});
export type Requester = z.infer<typeof RequesterSchema>;

const RequestersFileSchema = z.strictObject({
  version: z.literal(1),
  requesters: z.array(RequesterSchema).min(1),
});

/** The token file: requester id → hex SHA-256 of its token. */
export const TokenHashesSchema = z.strictObject({
  version: z.literal(1),
  tokens: z.record(z.string(), z.string().regex(/^[0-9a-f]{64}$/, 'must be a hex SHA-256')),
});
export type TokenHashes = z.infer<typeof TokenHashesSchema>;

export const DEFAULT_REQUESTERS_PATH = new URL('../../../seeds/requesters.yaml', import.meta.url).pathname;

const problemsOf = (error: z.ZodError) => error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);

export function parseRequesters(document: unknown, source: string): Requester[] {
  const parsed = RequestersFileSchema.safeParse(document);
  if (!parsed.success)
    throw new Error(
      `Invalid requesters file ${source}:\n${problemsOf(parsed.error)
        .map((p) => `  - ${p}`)
        .join('\n')}`,
    );
  const ids = parsed.data.requesters.map((r) => r.id);
  const duplicates = ids.filter((id, i) => ids.indexOf(id) !== i);
  if (duplicates.length > 0) throw new Error(`Invalid requesters file ${source}: duplicate ids ${[...new Set(duplicates)].join(', ')}`);
  return parsed.data.requesters;
}

export function loadRequesters(path: string): Requester[] {
  return parseRequesters(parseYaml(readFileSync(path, 'utf8')), path);
}

export interface RequesterDirectory {
  readonly requesters: readonly Requester[];
  /** The requester a request's Authorization header proves, or undefined. */
  authenticate(authorization: string | undefined): Requester | undefined;
}

/**
 * A directory of requesters with their token hashes. `tokens` is the JSON text of the token
 * file; an id in it that is not a known requester is an error (a typo would lock someone out).
 */
export function createRequesterDirectory(requesters: readonly Requester[], tokens: string): RequesterDirectory {
  const file = parseTokenFile(tokens, TokenHashesSchema, 'requester token file');
  const byId = new Map(requesters.map((r) => [r.id, r]));
  const unknown = Object.keys(file.tokens).filter((id) => !byId.has(id));
  if (unknown.length > 0) throw new Error(`The requester token file names requesters that are not in the requesters file: ${unknown.join(', ')}`);
  const authenticate = bearerTokenCheck(Object.entries(file.tokens).map(([id, hash]) => ({ hash, holder: byId.get(id)! })));
  return { requesters, authenticate };
}
