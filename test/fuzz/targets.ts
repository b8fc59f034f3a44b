// Fuzz targets: one function per parser at a trust boundary, taking raw bytes and throwing only
// when an invariant breaks (a crash, a leak, a record that the next stage cannot use). Run by
// the coverage-guided fuzzer (test/fuzz/run.ts, `pnpm fuzz`) and replayed from the committed
// corpus by test/unit/fuzz-corpus.test.ts.
//   ingest         the gateway's stage: topic + payload bytes → records or a refusal
//   kafka-records  the Kafka record schemas every consumer applies, and the aggregator that
//                  consumes what they accept
//   policy         the policy file: YAML → parsePolicy → the topic configs and register built from it
import {
  aggregateRetentionSeconds,
  buildRegister,
  createAggregator,
  createBudgetLedger,
  createIngestStage,
  createKindKeyProviders,
  createNoiseSource,
  createPseudonymizers,
  DEFAULT_POLICY_PATH,
  loadPolicy,
  ManualClock,
  parsePolicy,
  PolicyError,
  topicSpecs,
  type Policy,
} from '@lethe/privacy';
import {
  AggregateRecordSchema,
  AuditEventRecordSchema,
  createFleet,
  parseReadingTopic,
  READING_SCHEMAS,
  ReadingRecordSchema,
  readingTopic,
  REJECT_REASONS,
  RejectedRecordSchema,
  SightingRecordSchema,
  sightingsOf,
  SightingsRecordSchema,
  SightingsTopicRecordSchema,
  TOPICS,
  type DeviceKind,
} from '@lethe/schemas';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';

export const FUZZ_TARGET_NAMES = ['ingest', 'kafka-records', 'policy'] as const;
export type FuzzTargetName = (typeof FUZZ_TARGET_NAMES)[number];

/** An invariant broke: the fuzzer reports this input as a finding. */
export class FuzzFinding extends Error {
  override name = 'FuzzFinding';
}

function check(ok: boolean, what: string): asserts ok {
  if (!ok) throw new FuzzFinding(what);
}

const PROTOTYPE_NAMES = Object.getOwnPropertyNames(Object.prototype).join();
function prototypeUntouched(): void {
  check(Object.getOwnPropertyNames(Object.prototype).join() === PROTOTYPE_NAMES && !('polluted' in {}), 'Object.prototype was modified');
}

// --- ingest ------------------------------------------------------------------------------------

/** The clock of the ingest target: seeds are stamped around it. */
export const FUZZ_NOW = Date.UTC(2026, 0, 1, 8, 0, 30);
const NOW = FUZZ_NOW;
const policy = loadPolicy(DEFAULT_POLICY_PATH);
const fleet = createFleet([
  { id: 'LP-0001', kind: 'lamppost', district: 'wan-chai', lat: 22.28, lon: 114.18 },
  { id: 'TL-0001', kind: 'traffic-light', district: 'wan-chai', lat: 22.28, lon: 114.18 },
  { id: 'SW-0001', kind: 'sewer', district: 'sha-tin', lat: 22.38, lon: 114.19 },
]);
const clock = new ManualClock(NOW);
const ingestStage = createIngestStage({
  policy,
  fleet,
  clock,
  pseudonymizers: createPseudonymizers(policy, createKindKeyProviders(policy, { clock })),
});

/** Topics the first byte of an ingest input chooses from; 255 means "the topic follows in the input". */
export const INGEST_TOPICS = [
  readingTopic('lamppost', 'LP-0001'),
  readingTopic('traffic-light', 'TL-0001'),
  readingTopic('sewer', 'SW-0001'),
  readingTopic('sewer', 'LP-0001'),
  readingTopic('lamppost', 'LP-0999'),
  'lethe/v1/streetlamp/LP-0001/reading',
] as const;

/** Splits an ingest input into a topic and a payload (the inverse of `encodeIngestInput`). */
export function decodeIngestInput(data: Buffer): { topic: string; payload: Buffer } {
  if (data.length === 0) return { topic: INGEST_TOPICS[0], payload: data };
  const selector = data[0]!;
  if (selector === 255 && data.length >= 2) {
    const length = data[1]!;
    return { topic: data.subarray(2, 2 + length).toString('utf8'), payload: data.subarray(2 + length) };
  }
  return { topic: INGEST_TOPICS[selector % INGEST_TOPICS.length]!, payload: data.subarray(1) };
}

export function encodeIngestInput(topic: string, payload: Buffer): Buffer {
  const index = (INGEST_TOPICS as readonly string[]).indexOf(topic);
  if (index >= 0) return Buffer.concat([Buffer.from([index]), payload]);
  const t = Buffer.from(topic, 'utf8');
  if (t.length > 254) throw new Error('topic too long for a fuzz input');
  return Buffer.concat([Buffer.from([255, t.length]), t, payload]);
}

/** Keys the excerpt may show (the policy's field names) and the words it is made of. */
const KNOWN_KEYS = new Set(Object.values(policy.kinds).flatMap((k) => Object.keys(k.fields).flatMap((f) => f.split('.'))));
const EXCERPT_WORDS = new Set([...KNOWN_KEYS, 'string', 'number', 'boolean', 'null', 'object', 'items', 'bytes', 'not', 'JSON', 'UTF', '8']);
/** Every key of every reading schema (zod issue paths are made of them and array indices). */
const SCHEMA_KEYS = new Set(
  Object.values(READING_SCHEMAS).flatMap((schema) => [
    ...Object.keys(schema.shape),
    ...Object.entries(schema.shape).flatMap(([, field]) => {
      const element = (field as { unwrap?: () => { element?: { shape?: object } } }).unwrap?.().element;
      return element?.shape ? Object.keys(element.shape) : [];
    }),
  ]),
);
/** Identifier-shaped text of the input: a refusal or a forwarded record must repeat none of it. */
const IDENTIFIER_PATTERNS = [/[0-9A-Fa-f]{2}(?:[:-][0-9A-Fa-f]{2}){5}/g, /\b[A-Z0-9]{1,3} [A-Z0-9]{1,5}\b/g];

function identifiersIn(text: string): string[] {
  const found = IDENTIFIER_PATTERNS.flatMap((re) => text.match(re) ?? []);
  // Short plates ("A 1") and device ids occur in any text; six characters and more do not.
  return found.filter((id) => id.replace(/\W/g, '').length >= 6 && !/^(LP|TL|SW)-\d{4}$/.test(id));
}

export async function fuzzIngest(data: Buffer): Promise<void> {
  const { topic, payload } = decodeIngestInput(data);
  const result = await ingestStage.ingest(topic, payload);
  const identifiers = identifiersIn(payload.toString('latin1') + payload.toString('utf8') + topic);
  prototypeUntouched();
  if (result.ok) {
    check(result.records.length > 0 && result.records[0]!.topic === TOPICS.readings, 'an accepted reading must be forwarded first');
    for (const r of result.records) {
      const record = (r.topic === TOPICS.readings ? ReadingRecordSchema : SightingsRecordSchema).safeParse(JSON.parse(r.value));
      check(record.success, `a forwarded ${r.topic} record does not match its schema: ${record.success ? '' : JSON.stringify(record.error.issues)}`);
      check(r.timestamp === undefined || Number.isSafeInteger(r.timestamp), 'a Kafka timestamp must be an integer');
      for (const id of identifiers) check(!(r.key + r.value).toUpperCase().includes(id.toUpperCase()), 'a forwarded record repeats an identifier of the input');
      if (r.topic === TOPICS.readings) {
        const values = (record.data as { values: Record<string, unknown>; kind: DeviceKind }).values;
        const kind = (record.data as { kind: DeviceKind }).kind;
        for (const field of Object.keys(values))
          check(policy.kinds[kind].fields[field]?.treatment === 'keep', `field ${field} was forwarded but the policy does not keep it`);
      }
    }
    return;
  }
  const { rejected, record } = result;
  check(REJECT_REASONS.includes(rejected.reason), 'unknown reject reason');
  check(record.topic === TOPICS.rejected && RejectedRecordSchema.safeParse(JSON.parse(record.value)).success, 'the rejected record does not match its schema');
  check(
    parseReadingTopic(rejected.topic) !== undefined || /^<invalid topic, \d+ chars>$/.test(rejected.topic),
    'the rejected record quotes a topic that is not ours',
  );
  // An excerpt cut at its length limit ends in a cut word ("boole…"): structure, not input.
  const words = rejected.excerpt.replace(/[A-Za-z0-9_]*…$/, '').match(/[A-Za-z_][A-Za-z0-9_]*/g) ?? [];
  for (const word of words) check(EXCERPT_WORDS.has(word), `the excerpt contains "${word.slice(0, 20)}", which is not a known key or a type`);
  if (rejected.reason === 'SCHEMA_VIOLATION') {
    for (const issue of rejected.detail.split('; ')) {
      const path = issue.slice(0, issue.indexOf(': '));
      if (path === '(root)' || path === 'ts') continue;
      for (const segment of path.split('.'))
        check(SCHEMA_KEYS.has(segment) || /^\d+$/.test(segment), `the detail's path holds "${segment.slice(0, 20)}", not a schema key`);
    }
  }
  for (const id of identifiers) check(!record.value.toUpperCase().includes(id.toUpperCase()), 'the rejected record repeats an identifier of the input');
}

// --- kafka-records -----------------------------------------------------------------------------

/** The last millisecond a JavaScript Date can hold. */
const MAX_DATE_MS = 8.64e15;
const RECORD_SCHEMAS = [
  ReadingRecordSchema,
  SightingRecordSchema,
  SightingsRecordSchema,
  AggregateRecordSchema,
  RejectedRecordSchema,
  AuditEventRecordSchema,
] as const;
const noise = createNoiseSource(Buffer.alloc(32, 5));

export function fuzzKafkaRecords(data: Buffer): void {
  let value: unknown;
  try {
    value = JSON.parse(data.toString('utf8'));
  } catch {
    return;
  }
  for (const schema of RECORD_SCHEMAS) {
    const result = schema.safeParse(value);
    prototypeUntouched();
    if (!result.success) continue;
    const again = schema.safeParse(JSON.parse(JSON.stringify(result.data)));
    check(again.success && JSON.stringify(again.data) === JSON.stringify(result.data), 'a parsed record does not survive a JSON round trip');
  }
  // What the processor does with records the schemas accept: the aggregates it emits must be valid aggregate records.
  const reading = ReadingRecordSchema.safeParse(value);
  const sighting = SightingsTopicRecordSchema.safeParse(value);
  if (!reading.success && !sighting.success) return;
  const ts = reading.success ? reading.data.ts : sighting.data!.ts;
  // The processor closes a window only once the clock has passed it, and no clock passes the
  // end of the Date range (year 275760): beyond it a record is held, never released. (Such a
  // far-future record blocks the processor's offset commits; see test/fuzz/README.md.)
  if (ts > MAX_DATE_MS - 86_400_000) return;
  const aggregator = createAggregator({ policy, clock: new ManualClock(ts + 1000), graceMs: 0, noise, ledger: createBudgetLedger() });
  if (reading.success) {
    aggregator.addReading(reading.data);
    aggregator.addReading({ ...reading.data, seq: reading.data.seq + 1 });
  } else {
    const [first] = sightingsOf(sighting.data!);
    for (let i = 0; i < 6; i++) aggregator.addSighting({ ...first!, pseudonym: `${first!.pseudonym.slice(0, 15)}${i}` });
  }
  // As the processor does: closed a little after the epoch of the records ended.
  for (const out of aggregator.closeDue(ts + policy.kinds.lamppost.epoch + 60_000).records) {
    const parsed = AggregateRecordSchema.safeParse(JSON.parse(JSON.stringify(out)));
    check(parsed.success, `the aggregator emitted an invalid aggregate: ${parsed.success ? '' : JSON.stringify(parsed.error.issues).slice(0, 300)}`);
  }
}

// --- policy ------------------------------------------------------------------------------------

const SHIPPED_POLICY = parseYaml(readFileSync(DEFAULT_POLICY_PATH, 'utf8')) as Record<string, unknown>;

/** Every path to a value in the shipped policy (objects included, so whole sections can be replaced). */
function pathsOf(value: unknown, prefix: string[] = []): string[][] {
  if (value === null || typeof value !== 'object') return [prefix];
  return [prefix, ...Object.entries(value).flatMap(([k, v]) => pathsOf(v, [...prefix, k]))];
}
const POLICY_PATHS = pathsOf(SHIPPED_POLICY).filter((p) => p.length > 0);
const DURATION_UNITS = ['ms', 's', 'm', 'h', 'd'];

/**
 * A policy input: YAML text, or — when the first byte is 0xFF — edits to the shipped policy, so
 * the fuzzer reaches the checks behind the schema instead of mostly breaking the YAML. Each edit
 * is 3 bytes and an argument: which path, what kind of value, and the value's bytes.
 */
export function decodePolicyInput(data: Buffer): unknown {
  if (data[0] !== 0xff) return parseYaml(data.toString('utf8'), { maxAliasCount: 100, logLevel: 'silent' });
  const document = structuredClone(SHIPPED_POLICY);
  for (let at = 1; at + 3 <= data.length;) {
    const path = POLICY_PATHS[data.readUInt16BE(at) % POLICY_PATHS.length]!;
    const kind = data[at + 2]! % 8;
    const length = Math.min(data[at + 3] ?? 0, 64);
    const arg = data.subarray(at + 4, at + 4 + length);
    at += 4 + length;
    const number = arg.length >= 8 ? arg.readDoubleBE(0) : arg.length >= 4 ? arg.readInt32BE(0) : arg.length > 0 ? arg[0]! : 0;
    const digits = arg.length > 0 ? arg.toString('latin1').replace(/\D/g, '') || '0' : '0';
    const value = [
      () => `${digits}${DURATION_UNITS[(arg[0] ?? 0) % DURATION_UNITS.length]}`,
      () => number,
      () => Math.trunc(number),
      () => arg.toString('utf8'),
      () => null,
      () => [arg.toString('utf8')],
      () => ({ [arg.toString('utf8')]: number }),
      () => undefined,
    ][kind]!();
    let parent = document as Record<string, unknown>;
    for (const key of path.slice(0, -1)) {
      const next = parent[key];
      if (next === null || typeof next !== 'object') break;
      parent = next as Record<string, unknown>;
    }
    const last = path.at(-1)!;
    if (value === undefined) delete parent[last];
    else parent[last] = value;
  }
  return document;
}

export function fuzzPolicy(data: Buffer): void {
  let document: unknown;
  try {
    document = decodePolicyInput(data);
  } catch {
    return; // not YAML: loadPolicy reports it as such
  }
  let parsed: Policy;
  try {
    parsed = parsePolicy(document);
  } catch (err) {
    if (err instanceof PolicyError) return;
    throw err;
  }
  prototypeUntouched();
  const durations = [
    parsed.aggregates.retention,
    parsed.rawData.ttl,
    parsed.rawData.segment,
    ...Object.values(parsed.kinds).flatMap((k) => [k.window, k.epoch]),
  ];
  for (const d of durations) check(Number.isSafeInteger(d) && d > 0, `an accepted policy has a duration of ${d} ms`);
  // 0 is a legitimate (strictest) lateness: every late sighting is dropped.
  check(
    Number.isSafeInteger(parsed.rawData.maxLateness) && parsed.rawData.maxLateness >= 0,
    `an accepted policy has a max lateness of ${parsed.rawData.maxLateness} ms`,
  );
  for (const kind of Object.values(parsed.kinds)) {
    check(kind.epoch % kind.window === 0 && kind.epoch <= parsed.rawData.ttl, 'an accepted policy has an epoch that is not whole windows within the TTL');
    check(
      Number.isFinite(kind.epsilonPerRelease) && kind.epsilonPerRelease > 0 && kind.epsilonPerRelease <= kind.epsilonPerDay,
      'an accepted policy has an unusable ε',
    );
  }
  for (const spec of topicSpecs(parsed)) {
    for (const [name, v] of Object.entries(spec.configs))
      if (name.endsWith('.ms') || name.endsWith('.bytes'))
        check(/^[1-9]\d*$/.test(v) && Number.isSafeInteger(Number(v)), `topic config ${name}=${v} is not a positive integer`);
  }
  check(
    Number.isSafeInteger(aggregateRetentionSeconds(parsed)) && aggregateRetentionSeconds(parsed) > 0,
    'the bucket retention is not a positive number of seconds',
  );
  buildRegister(parsed);
}

export const FUZZ_TARGETS: Record<FuzzTargetName, (data: Buffer) => void | Promise<void>> = {
  ingest: fuzzIngest,
  'kafka-records': fuzzKafkaRecords,
  policy: fuzzPolicy,
};
