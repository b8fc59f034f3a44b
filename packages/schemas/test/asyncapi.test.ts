// docs/asyncapi.yaml is a valid AsyncAPI 3.0 document by the official parser, and it matches the
// code: a channel for every Kafka topic and every device kind's MQTT topic, payloads that are the
// generated JSON Schemas, operations that describe the pipeline's data flow, and examples that
// zod accepts. (Its Kafka retention is checked against the policy in test/unit/.)
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { DiagnosticSeverity, fromFile, Parser, type AsyncAPIDocumentInterface, type MessageInterface } from '@asyncapi/parser';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DEVICE_KINDS, readingTopic } from '../src/device-kinds.ts';
import { JSON_SCHEMA_DIR } from '../src/json-schema-files.ts';
import { JSON_SCHEMA_ID_BASE, jsonSchemaSources, KAFKA_RECORD_SOURCES, MQTT_PAYLOAD_SOURCES, type TopicKey } from '../src/json-schemas.ts';
import { PERSONAL_TOPICS, TOPICS } from '../src/topics.ts';

const ASYNCAPI_PATH = new URL('../../../docs/asyncapi.yaml', import.meta.url).pathname;

let document: AsyncAPIDocumentInterface;
const raw = parse(readFileSync(ASYNCAPI_PATH, 'utf8')) as Record<string, unknown>;

beforeAll(async () => {
  const { document: parsed, diagnostics } = await fromFile(new Parser(), ASYNCAPI_PATH).parse();
  // Errors and warnings fail; information and hints (e.g. "3.1.0 is out") do not.
  const problems = diagnostics
    .filter((d) => d.severity === DiagnosticSeverity.Error || d.severity === DiagnosticSeverity.Warning)
    .map((d) => `${d.code} at ${d.path.join('.') || '(root)'}: ${d.message}`);
  expect(problems, 'docs/asyncapi.yaml has validation problems').toEqual([]);
  expect(parsed).toBeDefined();
  document = parsed!;
});

const channelAt = (address: string) =>
  document
    .channels()
    .all()
    .filter((c) => c.address() === address);
/** The `$id` of a message's payload: which generated JSON Schema it is. */
const payloadId = (message: MessageInterface) => (message.payload()?.json() as { $id?: string } | undefined)?.$id;
const payloadIds = (address: string) => channelAt(address).flatMap((c) => c.messages().all().map(payloadId));

/** Every `$ref` in the raw document that points outside it. */
function fileRefs(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) node.forEach((n) => fileRefs(n, out));
  else if (typeof node === 'object' && node !== null) {
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref' && typeof value === 'string' && !value.startsWith('#')) out.push(value);
      else fileRefs(value, out);
    }
  }
  return out;
}

describe('docs/asyncapi.yaml', () => {
  it('is an AsyncAPI 3.0 document with an MQTT (Mosquitto) and a Kafka server', () => {
    expect(document.version()).toMatch(/^3\.0\./);
    const servers = Object.fromEntries(
      document
        .servers()
        .all()
        .map((s) => [s.id(), s.protocol()]),
    );
    expect(servers).toEqual({ mqtt: 'mqtt', kafka: 'kafka' });
  });

  it('has a channel on the Kafka server for every topic in TOPICS, and no other Kafka channel', () => {
    for (const topic of Object.values(TOPICS)) {
      const channels = channelAt(topic);
      expect(channels, `no channel for Kafka topic ${topic}`).toHaveLength(1);
      expect(
        channels[0]!
          .servers()
          .all()
          .map((s) => s.id()),
      ).toEqual(['kafka']);
    }
    const kafkaChannels = document
      .channels()
      .all()
      .filter((c) =>
        c
          .servers()
          .all()
          .some((s) => s.id() === 'kafka'),
      );
    expect(kafkaChannels.map((c) => c.address()).sort()).toEqual(Object.values(TOPICS).sort());
  });

  it('has an MQTT reading channel with a deviceId parameter for every device kind', () => {
    for (const kind of DEVICE_KINDS) {
      const channels = channelAt(readingTopic(kind, '{deviceId}'));
      expect(channels, `no MQTT channel for ${kind}`).toHaveLength(1);
      expect(
        channels[0]!
          .servers()
          .all()
          .map((s) => s.id()),
      ).toEqual(['mqtt']);
      expect(
        channels[0]!
          .parameters()
          .all()
          .map((p) => p.id()),
      ).toEqual(['deviceId']);
    }
  });

  it('uses the generated JSON Schema of each channel as its message payload', () => {
    for (const kind of DEVICE_KINDS) {
      expect(payloadIds(readingTopic(kind, '{deviceId}'))).toEqual([`${JSON_SCHEMA_ID_BASE}${MQTT_PAYLOAD_SOURCES[kind].file}`]);
    }
    for (const key of Object.keys(TOPICS) as TopicKey[]) {
      expect(payloadIds(TOPICS[key])).toEqual([`${JSON_SCHEMA_ID_BASE}${KAFKA_RECORD_SOURCES[key].file}`]);
    }
  });

  it('refers only to files that exist, by relative path, and only to generated JSON Schemas', () => {
    const refs = fileRefs(raw);
    expect(refs.length).toBeGreaterThanOrEqual(jsonSchemaSources().length);
    for (const ref of refs) {
      expect(ref, 'refs must be relative so the document works from a checkout').toMatch(/^\.\.?\//);
      const path = resolve(dirname(ASYNCAPI_PATH), ref);
      expect(existsSync(path), `${ref} does not exist`).toBe(true);
      expect(jsonSchemaSources().map((s) => resolve(JSON_SCHEMA_DIR, s.file))).toContain(path);
    }
  });

  it('marks exactly the personal topics as personal data, with a retention', () => {
    for (const topic of Object.values(TOPICS)) {
      const channel = channelAt(topic)[0]!;
      // The parser's channel model has no tags() yet; the dereferenced JSON has them.
      const tags = (channel.json() as { tags?: Array<{ name: string }> }).tags ?? [];
      const personal = tags.some((t) => t.name === 'personal-data');
      expect(personal, topic).toBe(PERSONAL_TOPICS.includes(topic));
      const binding = channel.bindings().get('kafka')?.value() as { topic?: string; topicConfiguration?: Record<string, unknown> } | undefined;
      expect(binding?.topic).toBe(topic);
      expect(binding?.topicConfiguration?.['retention.ms'], topic).toBeTypeOf('number');
      if (personal) expect(binding?.topicConfiguration?.['segment.ms'], topic).toBeTypeOf('number');
    }
  });

  it('describes the data flow: devices → gateway → processor (stage 1 → partials → releaser) → writer, and audit events gateway → api', () => {
    const flow = document
      .operations()
      .all()
      .flatMap((op) =>
        op
          .tags()
          .all()
          .filter((t) => ['devices', 'gateway', 'processor', 'writer', 'api'].includes(t.name()))
          .map((t) => `${t.name()} ${op.action()} ${op.channels().all()[0]!.address()}`),
      )
      .sort();
    const mqtt = DEVICE_KINDS.map((kind) => readingTopic(kind, '{deviceId}'));
    expect(flow).toEqual(
      [
        ...mqtt.map((t) => `devices send ${t}`),
        ...mqtt.map((t) => `gateway receive ${t}`),
        `gateway send ${TOPICS.readings}`,
        `gateway send ${TOPICS.sightings}`,
        `gateway send ${TOPICS.rejected}`,
        `processor receive ${TOPICS.readings}`,
        `processor receive ${TOPICS.sightings}`,
        `processor send ${TOPICS.partials}`,
        `processor receive ${TOPICS.partials}`,
        `processor send ${TOPICS.aggregates}`,
        `processor send ${TOPICS.ledger}`,
        `processor receive ${TOPICS.ledger}`,
        `writer receive ${TOPICS.aggregates}`,
        `gateway send ${TOPICS.audit}`,
        `api receive ${TOPICS.audit}`,
      ].sort(),
    );
  });

  it('publishes and subscribes to MQTT with QoS 1', () => {
    const mqttOps = document
      .operations()
      .all()
      .filter((op) =>
        op
          .channels()
          .all()[0]!
          .servers()
          .all()
          .some((s) => s.id() === 'mqtt'),
      );
    expect(mqttOps).toHaveLength(2 * DEVICE_KINDS.length);
    for (const op of mqttOps) expect((op.bindings().get('mqtt')?.value() as { qos?: number } | undefined)?.qos, op.id()).toBe(1);
  });

  it('has examples that zod accepts for every message', () => {
    const messages = document.components().messages().all();
    expect(messages).toHaveLength(jsonSchemaSources().length);
    for (const message of messages) {
      const source = jsonSchemaSources().find((s) => `${JSON_SCHEMA_ID_BASE}${s.file}` === payloadId(message));
      expect(source, `message ${message.id()} has no generated payload`).toBeDefined();
      const examples = message.examples().all();
      expect(examples.length, `message ${message.id()} has no example`).toBeGreaterThan(0);
      for (const example of examples) {
        const parsed = source!.schema.safeParse(example.payload());
        expect(parsed.success, `${message.id()} example ${example.name()}: ${parsed.error?.message}`).toBe(true);
      }
    }
  });
});
