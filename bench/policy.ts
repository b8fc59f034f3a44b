// The bench's policy: the shipped seeds/policy.yaml with 5 s windows instead of 60 s, so a
// one-minute step closes a dozen windows and "window close → visible in InfluxDB" is measured
// many times. TTL, epochs, k and ε are the shipped ones (ε per day counts releases: 5 s windows
// spend it 12 times faster, far from the cap within a run).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_POLICY_PATH } from '@lethe/privacy';
import { parse, stringify } from 'yaml';

export const BENCH_WINDOW_SECONDS = 5;

export function writeBenchPolicy(dir: string): string {
  const doc = parse(readFileSync(DEFAULT_POLICY_PATH, 'utf8')) as { kinds: Record<string, { window: string }> };
  for (const kind of Object.values(doc.kinds)) kind.window = `${BENCH_WINDOW_SECONDS}s`;
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'bench-policy.yaml');
  writeFileSync(path, stringify(doc));
  return path;
}
