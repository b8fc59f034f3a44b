// Kafka records made by hand for the tests of the processor's stages: the fields a test does not
// care about are filled in, pseudonyms padded to a real one's length.
import type { ReadingRecord, SightingRecord } from '@lethe/schemas';

/** A reading (a sewer's, unless told otherwise) in district north. */
export const readingRecord = (
  seq: number,
  ts: number,
  values: ReadingRecord['values'],
  deviceId = 'SW-0001',
  kind: ReadingRecord['kind'] = 'sewer',
): ReadingRecord => ({ v: 1, kind, deviceId, district: 'north', seq, ts, values });

/** A phone heard by a lamppost in district north. */
export const phoneSighting = (pseudonym: string, ts: number, deviceId = 'LP-0001'): SightingRecord => ({
  v: 1,
  source: 'wifi',
  pseudonym: pseudonym.padEnd(22, 'x'),
  epoch: 0,
  kind: 'lamppost',
  deviceId,
  district: 'north',
  ts,
});

/** A car's plate read by a traffic light (district south, unless told otherwise). */
export const carSighting = (
  pseudonym: string,
  deviceId: string,
  ts: number,
  { speedKmh, district = 'south' }: { speedKmh?: number; district?: string } = {},
): SightingRecord => ({
  v: 1,
  source: 'plate',
  pseudonym: pseudonym.padEnd(22, 'x'),
  epoch: 0,
  kind: 'traffic-light',
  deviceId,
  district,
  ts,
  ...(speedKmh === undefined ? {} : { speedKmh }),
});
