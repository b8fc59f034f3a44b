// Seed inputs of the fuzz corpora: the bad-input catalogue and valid messages for ingest, the
// records the services write for kafka-records, and the shipped policy for policy. Written once
// (`pnpm fuzz --seed`); the fuzzer then adds what reaches new coverage.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAggregator, createBudgetLedger, createNoiseSource, DEFAULT_POLICY_PATH, loadPolicy, ManualClock } from '@lethe/privacy';
import { DEVICE_KINDS, readingTopic } from '@lethe/schemas';
import fc from 'fast-check';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { badInputCatalogue } from '../bad-input/catalogue.ts';
import { createCanaries } from '../support/canaries.ts';
import { validReading } from '@lethe/schemas/arbitraries';
import { keepInputs } from './run.ts';
import { decodeIngestInput, encodeIngestInput, FUZZ_NOW, fuzzIngest, type FuzzTargetName } from './targets.ts';

const SEED = 0x5eed;

async function ingestSeeds(): Promise<Buffer[]> {
  let seq = 100;
  const inputs = badInputCatalogue({ now: FUZZ_NOW, canaries: createCanaries(), nextSeq: () => seq++ }).flatMap((c) =>
    c.messages.map((m) => encodeIngestInput(m.topic, m.payload)),
  );
  for (const kind of DEVICE_KINDS) {
    const id = { lamppost: 'LP-0001', 'traffic-light': 'TL-0001', sewer: 'SW-0001' }[kind];
    for (const r of fc.sample(
      validReading(kind, { deviceId: fc.constant(id), ts: fc.integer({ min: FUZZ_NOW - 50_000, max: FUZZ_NOW + 20_000 }), maxProbes: 4 }),
      { seed: SEED, numRuns: 6 },
    )) {
      inputs.push(encodeIngestInput(readingTopic(kind, id), Buffer.from(JSON.stringify(r))));
    }
  }
  // Every seed must pass its own target (a seed that breaks an invariant is a finding, not a seed).
  for (const input of inputs)
    await fuzzIngest(input).catch((err: unknown) => {
      throw new Error(`seed on ${decodeIngestInput(input).topic} breaks the ingest target: ${String(err)}`);
    });
  return inputs;
}

function kafkaRecordSeeds(): Buffer[] {
  const policy = loadPolicy(DEFAULT_POLICY_PATH);
  const t = FUZZ_NOW;
  const aggregator = createAggregator({
    policy,
    clock: new ManualClock(t),
    graceMs: 0,
    noise: createNoiseSource(Buffer.alloc(32, 1)),
    ledger: createBudgetLedger(),
  });
  const reading = {
    v: 1,
    kind: 'traffic-light',
    deviceId: 'TL-0001',
    district: 'wan-chai',
    seq: 7,
    ts: t,
    values: { phase: 'green', vehicleCount: 12, occupancyPct: 18.5, queueLength: 2 },
  } as const;
  aggregator.addReading(reading);
  const sightings = Array.from(
    { length: 6 },
    (_, i) =>
      ({
        v: 1,
        source: 'wifi',
        pseudonym: `Zm9vYmFyYmF6cXV4${i}`,
        epoch: 1963616,
        kind: 'lamppost',
        deviceId: 'LP-0001',
        district: 'wan-chai',
        seq: 3,
        index: i,
        ts: t,
      }) as const,
  );
  for (const s of sightings) aggregator.addSighting(s);
  const aggregates = aggregator.closeDue(t + 16 * 60_000).records;
  const records: unknown[] = [
    reading,
    { v: 1, kind: 'sewer', deviceId: 'SW-0001', district: 'sha-tin', seq: 1, ts: t, values: { levelCm: 42.5, overflow: false } },
    ...sightings.slice(0, 2),
    {
      v: 1,
      source: 'plate',
      pseudonym: 'cGxhdGVwc2V1ZG9ueW0',
      epoch: 1963616,
      kind: 'traffic-light',
      deviceId: 'TL-0001',
      district: 'wan-chai',
      seq: 9,
      index: 0,
      ts: t,
      speedKmh: 42,
    },
    ...aggregates.slice(0, 8),
    {
      v: 1,
      reason: 'SCHEMA_VIOLATION',
      detail: 'pm25: Invalid input: expected number, received string',
      topic: 'lethe/v1/lamppost/LP-0001/reading',
      excerpt: '{deviceId:string,pm25:string}',
      bytes: 120,
      receivedAt: t,
    },
    { v: 1, type: 'key.destroyed', actor: 'gateway', at: t, data: { kind: 'lamppost', epoch: 1963616, epochStart: '2026-01-01T07:45:00.000Z' } },
  ];
  return records.map((r) => Buffer.from(JSON.stringify(r)));
}

function policySeeds(): Buffer[] {
  const document = parseYaml(readFileSync(DEFAULT_POLICY_PATH, 'utf8')) as {
    kinds: Record<string, { fields: object; description: string; purposes: string[]; legalBasis: string; title: string }>;
  };
  // The same policy with one field per kind and short texts: small inputs mutate faster.
  const small = structuredClone(document);
  for (const kind of Object.values(small.kinds)) {
    kind.fields = Object.fromEntries(Object.entries(kind.fields).slice(3, 4));
    kind.title = kind.description = kind.legalBasis = 'x';
    kind.purposes = ['x'];
  }
  // Edits to the shipped policy (see decodePolicyInput): none, and a duration set to "15m".
  const edits = [Buffer.from([0xff]), Buffer.from([0xff, 0, 3, 0, 3, 0x02, 0x31, 0x35])];
  return [
    Buffer.from(stringifyYaml(document)),
    Buffer.from(JSON.stringify(document)),
    Buffer.from(stringifyYaml(small)),
    Buffer.from(JSON.stringify(small)),
    ...edits,
  ];
}

/** Writes a target's seeds into its corpus (under the corpus budget); returns how many were added. */
export async function writeSeeds(target: FuzzTargetName): Promise<number> {
  const seeds = target === 'ingest' ? await ingestSeeds() : target === 'kafka-records' ? kafkaRecordSeeds() : policySeeds();
  const dir = mkdtempSync(join(tmpdir(), 'lethe-seeds-'));
  const files = seeds.map((s, i) => {
    const file = join(dir, `seed-${i}`);
    writeFileSync(file, s);
    return file;
  });
  return keepInputs(target, files);
}
