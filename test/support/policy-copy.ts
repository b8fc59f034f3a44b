// Writes an edited copy of the shipped policy to a temporary file, for checks that a policy
// change reaches what enforces it, or for tests that need short windows. The shipped seeds/policy.yaml is never touched.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_POLICY_PATH, parseDuration } from '@lethe/privacy';
import { parse, stringify } from 'yaml';

/** The policy document as written in YAML (durations as text). */
export interface PolicyDocument {
  aggregates: { retention: string };
  rawData: { ttl: string; segment: string; maxLateness: string; keyGrace?: string; maxFutureSkew?: string };
  kinds: Record<string, { window: string; epoch: string; epsilonPerRelease?: number; epsilonPerDay?: number }>;
}

export function policyCopy(edit: (doc: PolicyDocument) => void): string {
  const doc = parse(readFileSync(DEFAULT_POLICY_PATH, 'utf8')) as PolicyDocument;
  edit(doc);
  const path = join(mkdtempSync(join(tmpdir(), 'lethe-policy-')), 'policy.yaml');
  writeFileSync(path, stringify(doc));
  return path;
}

/**
 * Every kind's window and epoch shortened for a test, and its daily ε budget scaled with the
 * window, so the test policy allows what the shipped one does: a release per window all day
 * (the shipped 1440 per day are a day of 60 s windows; 5 s windows get a day of 5 s windows).
 * The release ledger is shared by every releaser on the same Kafka and keeps the day's spending
 * (P9), so with the shipped budget a developer's test runs spent it within hours, and later runs
 * of the day had their person-derived figures withheld.
 */
export function shortWindows(doc: PolicyDocument, window: string, epoch: string): void {
  for (const kind of Object.values(doc.kinds)) {
    const scale = parseDuration(kind.window) / parseDuration(window);
    Object.assign(kind, { window, epoch });
    if (kind.epsilonPerDay !== undefined) kind.epsilonPerDay = Math.ceil(kind.epsilonPerDay * Math.max(1, scale));
  }
}
