// Writes an edited copy of the shipped policy to a temporary file, for checks that a policy
// change reaches what enforces it, or for tests that need short windows. The shipped seeds/policy.yaml is never touched.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_POLICY_PATH } from '@lethe/privacy';
import { parse, stringify } from 'yaml';

/** The policy document as written in YAML (durations as text). */
export interface PolicyDocument {
  aggregates: { retention: string };
  rawData: { ttl: string; segment: string; maxLateness: string; keyGrace?: string; maxFutureSkew?: string };
  kinds: Record<string, { window: string; epoch: string }>;
}

export function policyCopy(edit: (doc: PolicyDocument) => void): string {
  const doc = parse(readFileSync(DEFAULT_POLICY_PATH, 'utf8')) as PolicyDocument;
  edit(doc);
  const path = join(mkdtempSync(join(tmpdir(), 'lethe-policy-')), 'policy.yaml');
  writeFileSync(path, stringify(doc));
  return path;
}
