// The bench's policy: the shipped seeds/policy.yaml with 10 s windows instead of 60 s, so a
// one-minute step closes six windows and "window close → visible in InfluxDB" is measured many
// times. TTL, epochs, k and ε are the shipped ones (ε per day counts releases: 10 s windows
// spend it 6 times faster, far from the cap within a run).
//
// Why 10 s and not 5 (BENCH_WINDOW_SECONDS, default 10): the processor closes a window its grace
// (5 s) after the window's end, and the gateway starts a new sighting slot — a fresh record per
// phone and device (P9) — at every window boundary. Shipped, these two bursts are 5 s apart
// (60 s windows; slots of 60 s and 10 s). With 5 s windows the close lands exactly on the next
// boundary, so the bench stacked the two every 5 s, which the product never does: at half the
// maximum, publish → Kafka p99 was 145 and 82 ms with 5 s windows, 30 and 42 ms with 10 s, in
// alternating quick runs (bench/results/2026-12-07-window-phase.md).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_POLICY_PATH } from '@lethe/privacy';
import { parse, stringify } from 'yaml';

export function writeBenchPolicy(dir: string, windowSeconds: number): string {
  const doc = parse(readFileSync(DEFAULT_POLICY_PATH, 'utf8')) as { kinds: Record<string, { window: string }> };
  for (const kind of Object.values(doc.kinds)) kind.window = `${windowSeconds}s`;
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'bench-policy.yaml');
  writeFileSync(path, stringify(doc));
  return path;
}
