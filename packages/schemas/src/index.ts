export { DEVICE_KINDS, DEVICE_ID_PATTERN, READING_TOPIC_FILTER, isDeviceKind, kindOfDeviceId, parseReadingTopic, readingTopic } from './device-kinds.ts';
export type { DeviceKind } from './device-kinds.ts';
export {
  LamppostReadingSchema,
  MAC_PATTERN,
  PLATE_PATTERN,
  PlateReadSchema,
  READING_SCHEMAS,
  SewerReadingSchema,
  TrafficLightReadingSchema,
  WifiProbeSchema,
} from './readings.ts';
export type {
  LamppostReading,
  LamppostReadingInput,
  Reading,
  ReadingInput,
  SewerReading,
  SewerReadingInput,
  TrafficLightReading,
  TrafficLightReadingInput,
} from './readings.ts';
export { compileReadingValidators, READING_FIELDS } from './reading-validators.ts';
export { compileRecordParsers } from './record-parsers.ts';
export type { RecordParsers } from './record-parsers.ts';
export type { ReadingValidator } from './reading-validators.ts';
export {
  AggregateRecordSchema,
  AUDIT_EVENT_TYPES,
  CellPartialSchema,
  DevicePartialSchema,
  DwellPartialSchema,
  TripPartialSchema,
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
export { LedgerEntrySchema, ReleaseClaimRecordSchema } from './ledger-record.ts';
export type { ReleaseClaimRecord } from './ledger-record.ts';
export { PERSONAL_TOPICS, TOPICS, topicNames } from './topics.ts';
export type { TopicName, TopicNames } from './topics.ts';
export { DEFAULT_FLEET_PATH, DeviceSchema, FleetSchema, createFleet, loadFleet } from './fleet.ts';
export type { Device, Fleet } from './fleet.ts';
export {
  formatJsonSchema,
  generateJsonSchemas,
  JSON_SCHEMA_ID_BASE,
  jsonSchemaSources,
  KAFKA_RECORD_SOURCES,
  MQTT_PAYLOAD_SOURCES,
  toJsonSchema,
} from './json-schemas.ts';
export type { JsonSchemaDocument, JsonSchemaSource, TopicKey } from './json-schemas.ts';
export { JSON_SCHEMA_DIR } from './json-schema-files.ts';
