// Who may file data requests, and how they prove it. Requesters (id, name, type) come from
// seeds/requesters.yaml; their bearer tokens are never stored, only SHA-256 hashes of them
// (secrets/api-requester-tokens, written by scripts/setup-secrets.ts --issue-token). A token is
// 32 random bytes, so a plain hash is enough: there is nothing to guess a dictionary for.
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
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

/** SHA-256 of a token, hex: what the token file holds. */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
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
  let document: unknown;
  try {
    document = JSON.parse(tokens);
  } catch {
    throw new Error('The requester token file is not JSON; regenerate it with scripts/setup-secrets.ts.');
  }
  const parsed = TokenHashesSchema.safeParse(document);
  if (!parsed.success)
    throw new Error(
      `Invalid requester token file:\n${problemsOf(parsed.error)
        .map((p) => `  - ${p}`)
        .join('\n')}`,
    );
  const byId = new Map(requesters.map((r) => [r.id, r]));
  const unknown = Object.keys(parsed.data.tokens).filter((id) => !byId.has(id));
  if (unknown.length > 0) throw new Error(`The requester token file names requesters that are not in the requesters file: ${unknown.join(', ')}`);
  const entries = Object.entries(parsed.data.tokens).map(([id, hash]) => ({ requester: byId.get(id)!, hash: Buffer.from(hash, 'hex') }));

  return {
    requesters,
    authenticate(authorization) {
      const match = /^Bearer +([A-Za-z0-9._~+/-]{16,512}=*)$/i.exec(authorization?.trim() ?? '');
      if (!match) return undefined;
      const presented = Buffer.from(tokenHash(match[1]!), 'hex');
      // Compare against every entry, so the time taken does not tell which one matched.
      let found: Requester | undefined;
      for (const entry of entries) {
        if (timingSafeEqual(entry.hash, presented)) found ??= entry.requester;
      }
      return found;
    },
  };
}
