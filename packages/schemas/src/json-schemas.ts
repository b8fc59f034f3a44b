// JSON Schemas (draft 2020-12) generated from the zod schemas, so that the published contract
// (json-schema/**, referenced by docs/asyncapi.yaml) cannot drift from what the services parse.
//
// Every schema describes the *input* zod accepts, i.e. what a producer may put on the channel:
// fields with a default are optional, and unknown properties are allowed because parsing strips
// them (the gateway's first minimization step) rather than refusing them. That a JSON Schema
// validator and zod accept and refuse the same payloads is tested in
// packages/schemas/test/json-schemas.test.ts and test/unit/schema-samples.test.ts.
//
// The registries are typed by device kind and by Kafka topic, so adding a kind or a topic
// without its schema does not compile; packages/schemas/test/json-schemas.test.ts checks that
// every zod schema exported by readings.ts and records.ts ends up in a document.
import { z } from 'zod';
import { readingTopic, type DeviceKind } from './device-kinds.ts';
import { READING_SCHEMAS } from './readings.ts';
import {
  AggregateRecordSchema,
  AuditEventRecordSchema,
  ReadingRecordSchema,
  RejectedRecordSchema,
  SightingsTopicRecordSchema,
  WindowPartialRecordSchema,
} from './records.ts';
import { ReleaseClaimRecordSchema } from './ledger-record.ts';
import { TOPICS } from './topics.ts';

/** Base of every generated schema's `$id`; the file name under json-schema/ follows it. */
export const JSON_SCHEMA_ID_BASE = 'https://lethe.example/schemas/';

export type TopicKey = keyof typeof TOPICS;

export interface JsonSchemaSource {
  /** Path under json-schema/, e.g. `mqtt/lamppost-reading.schema.json`; also ends the `$id`. */
  file: string;
  schema: z.ZodType;
  title: string;
  description: string;
}

/** A generated JSON Schema document. */
export type JsonSchemaDocument = { $schema: string; $id: string; title: string; description: string } & Record<string, unknown>;

const UNKNOWN_KEYS = 'Properties not listed here are accepted and dropped on parsing.';

const READING_DOCS: Record<DeviceKind, { title: string; description: string }> = {
  lamppost: {
    title: 'Lamppost reading',
    description:
      'What a smart lamppost publishes: air quality, noise, light, climate, dimming and energy, and the Wi-Fi probe requests it heard. ' +
      'Probe MACs are direct identifiers of people: the gateway replaces them by epoch pseudonyms and never forwards them.',
  },
  'traffic-light': {
    title: 'Traffic light reading',
    description:
      'What a traffic light publishes: signal phase, vehicle count, occupancy, queue length, mean speed, and the licence plates its camera read. ' +
      'Plates are direct identifiers of people: the gateway replaces them by epoch pseudonyms and never forwards them.',
  },
  sewer: {
    title: 'Sewer sensor reading',
    description: 'What a sewer sensor publishes: water level, flow, H2S, temperature and the overflow flag. No personal data.',
  },
};

function mqttSource(kind: DeviceKind): JsonSchemaSource {
  return {
    file: `mqtt/${kind}-reading.schema.json`,
    schema: READING_SCHEMAS[kind],
    title: READING_DOCS[kind].title,
    description: `${READING_DOCS[kind].description} Topic: ${readingTopic(kind, '{deviceId}')}. ${UNKNOWN_KEYS}`,
  };
}

/** The MQTT payload schema of each device kind, as devices publish it; in DEVICE_KINDS order. */
export const MQTT_PAYLOAD_SOURCES: Readonly<Record<DeviceKind, JsonSchemaSource>> = {
  lamppost: mqttSource('lamppost'),
  'traffic-light': mqttSource('traffic-light'),
  sewer: mqttSource('sewer'),
};

/** The record schema of each Kafka topic, keyed like TOPICS. */
export const KAFKA_RECORD_SOURCES: Readonly<Record<TopicKey, JsonSchemaSource>> = {
  readings: {
    file: 'kafka/reading-record.schema.json',
    schema: ReadingRecordSchema,
    title: 'Reading record',
    description:
      `A minimized reading on ${TOPICS.readings}, keyed by device id. \`values\` holds only the fields the privacy policy keeps ` +
      `(environmental and person-derived figures); no identifier of a person. ${UNKNOWN_KEYS}`,
  },
  sightings: {
    file: 'kafka/sightings-record.schema.json',
    schema: SightingsTopicRecordSchema,
    title: 'Sightings record',
    description:
      `The sightings of phones (Wi-Fi probes) or vehicles (plate reads) in one reading that go to one partition of ${TOPICS.sightings}, each ` +
      `under its epoch pseudonym, in random order; the partition is the one Kafka's default partitioner gives each pseudonym as a key, so all ` +
      `of a person's sightings land on one partition (v 2). Consumers still read a single sighting (v 1), as gateways wrote them before, ` +
      `so a pipeline upgraded with records in flight loses none. Personal data, though pseudonymized: the topic keeps it only for the ` +
      `policy's raw-data TTL. ${UNKNOWN_KEYS}`,
  },
  partials: {
    file: 'kafka/window-partial-record.schema.json',
    schema: WindowPartialRecordSchema,
    title: 'Window partial record',
    description:
      `Stage 1 of the processor, on ${TOPICS.partials}, keyed by series and window start: the additive figures of one window (dwell: one ` +
      `pseudonym epoch) of one series in one input partition — environmental accumulators and person-derived counts per device, people ` +
      `per cell with speed histograms, trips per pair of junctions as travel-time histograms, dwell-time buckets per cell. No pseudonym ` +
      `and no per-person value, but figures below k: personal data, kept only for the raw-data TTL. The releaser merges the partials of ` +
      `every input partition, then applies k-anonymity, differencing protection, noise and the ε ledger. ${UNKNOWN_KEYS}`,
  },
  aggregates: {
    file: 'kafka/aggregate-record.schema.json',
    schema: AggregateRecordSchema,
    title: 'Aggregate record',
    description:
      `An anonymous aggregate over one tumbling window, after k-anonymity suppression and differential-privacy noise, on ${TOPICS.aggregates}, ` +
      `keyed by series and window start. Becomes one InfluxDB point. ${UNKNOWN_KEYS}`,
  },
  rejected: {
    file: 'kafka/rejected-record.schema.json',
    schema: RejectedRecordSchema,
    title: 'Rejected message record',
    description:
      `A message the gateway refused, on ${TOPICS.rejected}, keyed by reason. The excerpt keeps the message's structure with every value removed; ` +
      `the record may still concern a person, so the topic keeps it only for the policy's raw-data TTL. ${UNKNOWN_KEYS}`,
  },
  audit: {
    file: 'kafka/audit-event-record.schema.json',
    schema: AuditEventRecordSchema,
    title: 'Audit event record',
    description:
      `Something an auditor must be able to see (guarantee P8): a policy loaded or changed, a pseudonym key destroyed (never the key), ` +
      `data deleted by retention, a request refused or answered, an export. On ${TOPICS.audit}, keyed by actor; the api chains each ` +
      `event into its hash-chained, append-only audit log. \`data\` is small and flat and never holds personal data. ${UNKNOWN_KEYS}`,
  },
  ledger: {
    file: 'kafka/release-claim-record.schema.json',
    schema: ReleaseClaimRecordSchema,
    title: 'Release claim record',
    description:
      `One release by the processor's releaser, on ${TOPICS.ledger}, written and acknowledged before the release's aggregates are sent: ` +
      `per series the end of the last window released, a fingerprint of the noise key and policy (an HMAC that reveals nothing about the key) and ` +
      `the ε ledger of today and yesterday. Every releaser reads the topic whatever its consumer group or noise key, and sends a window ` +
      `only if the first claim of it was its own key's, so no window is ever released twice with different noise. No personal data. ${UNKNOWN_KEYS}`,
  },
};

/** Every source, MQTT payloads first, in a stable order. */
export function jsonSchemaSources(): JsonSchemaSource[] {
  return [...Object.values(MQTT_PAYLOAD_SOURCES), ...Object.values(KAFKA_RECORD_SOURCES)];
}

/** The JSON Schema of one zod schema, as a validator of its input should see it. */
export function toJsonSchema({ file, schema, title, description }: JsonSchemaSource): JsonSchemaDocument {
  const { $schema, ...body } = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input', unrepresentable: 'throw' });
  if (typeof $schema !== 'string') throw new Error(`zod produced no $schema for ${file}`);
  return { $schema, $id: `${JSON_SCHEMA_ID_BASE}${file}`, title, description, ...body };
}

/** Every generated document, keyed by its file name under json-schema/. */
export function generateJsonSchemas(): Map<string, JsonSchemaDocument> {
  const out = new Map<string, JsonSchemaDocument>();
  for (const source of jsonSchemaSources()) {
    if (out.has(source.file)) throw new Error(`Two schemas want the file ${source.file}`);
    out.set(source.file, toJsonSchema(source));
  }
  return out;
}

/** The committed text of a document: two-space JSON with a final newline. */
export function formatJsonSchema(document: JsonSchemaDocument): string {
  return `${JSON.stringify(document, null, 2)}\n`;
}
