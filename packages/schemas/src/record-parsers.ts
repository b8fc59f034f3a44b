// The processor reads every record of the readings and sightings topics: zod's safeParse cost
// it several µs per reading, as it did the gateway (reading-validators.ts). These parsers check
// a record against the topic's JSON Schema, compiled once by Ajv, and build the parsed record
// from its known fields only, as zod's parse would (unknown keys are dropped, not carried into
// the windows). A record Ajv refuses goes to zod, which has the last word.
// packages/schemas/test/record-parsers.test.ts checks that both judge and parse records alike.
import { KAFKA_RECORD_SOURCES, toJsonSchema } from './json-schemas.ts';
import { createAjv } from './reading-validators.ts';
import { ReadingRecordSchema, type ReadingRecord, type SightingRecord, sightingsOf, SightingsTopicRecordSchema } from './records.ts';

export interface RecordParsers {
  /** The reading record in parsed JSON, or undefined if it is not one. */
  reading(json: unknown): ReadingRecord | undefined;
  /** The sightings in a parsed sightings-topic record (a bundle or one sighting), or undefined if it is not one. */
  sightings(json: unknown): SightingRecord[] | undefined;
}

export function compileRecordParsers(): RecordParsers {
  const ajv = createAjv();
  const isReading = ajv.compile(toJsonSchema(KAFKA_RECORD_SOURCES.readings));
  const isSightings = ajv.compile(toJsonSchema(KAFKA_RECORD_SOURCES.sightings));
  return {
    reading(json) {
      if (!isReading(json)) {
        const parsed = ReadingRecordSchema.safeParse(json);
        return parsed.success ? parsed.data : undefined;
      }
      const { v, kind, deviceId, district, seq, ts, values } = json as ReadingRecord;
      return { v, kind, deviceId, district, seq, ts, values };
    },
    sightings(json) {
      if (!isSightings(json)) {
        const parsed = SightingsTopicRecordSchema.safeParse(json);
        return parsed.success ? sightingsOf(parsed.data) : undefined;
      }
      const record = json as Parameters<typeof sightingsOf>[0];
      if (record.v === 2) return sightingsOf(record);
      const { v, source, pseudonym, epoch, kind, deviceId, district, ts, speedKmh } = record;
      return [{ v, source, pseudonym, epoch, kind, deviceId, district, ts, ...(speedKmh === undefined ? {} : { speedKmh }) }];
    },
  };
}
