export { DEVICE_KINDS, READING_TOPIC_FILTER, parseReadingTopic, readingTopic } from './device-kinds.ts';
export type { DeviceKind } from './device-kinds.ts';
export { LamppostReadingSchema, MAC_PATTERN, PLATE_PATTERN, READING_SCHEMAS, SewerReadingSchema, TrafficLightReadingSchema } from './readings.ts';
export type { LamppostReadingInput, Reading, SewerReadingInput, TrafficLightReadingInput } from './readings.ts';
export { compileReadingValidators, READING_FIELDS } from './reading-validators.ts';
export { compileRecordParsers } from './record-parsers.ts';
export {
  AggregateRecordSchema,
  AUDIT_EVENT_TYPES,
  WindowPartialRecordSchema,
  AUDIT_MAX_STRING,
  AuditEventRecordSchema,
  ReadingRecordSchema,
  REJECT_REASONS,
  RejectedRecordSchema,
  SIGHTING_SOURCES,
  SightingRecordSchema,
  SightingsRecordSchema,
  SightingsTopicRecordSchema,
  parseSightings,
  sightingsOf,
} from './records.ts';
export type {
  AggregateRecord,
  AuditEventRecord,
  AuditEventType,
  CellPartial,
  DevicePartial,
  DwellPartial,
  ReadingRecord,
  RejectReason,
  RejectedRecord,
  SightingRecord,
  SightingsRecord,
  SightingSource,
  TripPartial,
  WindowPartialRecord,
} from './records.ts';
export { ReleaseClaimRecordSchema } from './ledger-record.ts';
export { PERSONAL_TOPICS, TOPICS, topicNames } from './topics.ts';
export { DEFAULT_FLEET_PATH, createFleet, loadFleet } from './fleet.ts';
export type { Device, Fleet } from './fleet.ts';
export { jsonSchemaSources, KAFKA_RECORD_SOURCES, MQTT_PAYLOAD_SOURCES } from './json-schemas.ts';
export type { TopicKey } from './json-schemas.ts';
export { JSON_SCHEMA_DIR } from './json-schema-files.ts';
