// Realistic MQTT payloads for the load generators: the simulator's readings of the whole
// fleet at the evening peak (the busiest hour: most Wi-Fi probes and plate reads per reading),
// several ticks of them so the phones and cars change over time as in the city. Each reading
// is kept as the JSON text after its `ts`, so a publisher only prepends deviceId, seq and ts.
import { partitionOf } from '@lethe/kafka';
import { DEFAULT_INPUT_PARTITIONS, DEFAULT_POLICY_PATH, createIngestStage, createKindKeyProviders, createPseudonymizers, loadPolicy } from '@lethe/privacy';
import { DEFAULT_FLEET_PATH, loadFleet, type DeviceKind } from '@lethe/schemas';
import { createCity, loadScenario } from '@lethe/simulator';

export interface DeviceTemplates {
  deviceId: string;
  kind: DeviceKind;
  topic: string;
  /** JSON text of a reading after `"ts":"…",` (the leading `{"deviceId":…,"seq":…,"ts":…,` is built per message). */
  tails: string[];
}

export interface PayloadSet {
  devices: DeviceTemplates[];
  /** Mean MQTT payload size, whole fleet. */
  meanPayloadBytes: number;
  /** Mean payload size of lamppost readings alone. */
  lamppostPayloadBytes: number;
  /** Mean size of the gateway's readings record (value JSON) for these payloads. */
  readingRecordBytes: number;
  /** One readings record as the gateway writes it (a lamppost's), for the Kafka producer stages. */
  readingRecordSample: string;
  /** Kafka records the gateway writes per reading (the reading, and its sightings in one record per partition). */
  recordsPerReading: number;
  /** Sightings (pseudonymized identifiers) per reading. */
  sightingsPerReading: number;
  /** Simulated time the readings were taken at (their own ts is replaced by the publish time). */
  simulatedAt: string;
}

/** 19:30 Hong Kong time: the evening peak of pedestrians and traffic. */
const PEAK = Date.UTC(2026, 5, 1, 11, 30, 0);

export function payloadHead(deviceId: string, seq: number, isoTs: string): string {
  return `{"deviceId":"${deviceId}","seq":${seq},"ts":"${isoTs}",`;
}

/** ISO 8601 UTC with microseconds, from a wall-clock time in µs (devices may send any precision; the gateway keeps ms). */
export function isoMicros(us: number): string {
  const ms = Math.floor(us / 1000);
  return `${new Date(ms).toISOString().slice(0, 23)}${String(Math.floor(us - ms * 1000)).padStart(3, '0')}Z`;
}

export async function buildPayloads({ ticks = 24, tickSeconds = 5 } = {}): Promise<PayloadSet> {
  const fleet = loadFleet(DEFAULT_FLEET_PATH);
  const city = createCity({ devices: fleet.devices, scenario: loadScenario('normal-day'), seed: 'bench', tickSeconds });
  const byDevice = new Map<string, DeviceTemplates>();
  let bytes = 0;
  let count = 0;
  let lampBytes = 0;
  let lampCount = 0;
  const samples: Array<{ topic: string; payload: string }> = [];
  for (let t = 0; t < ticks; t++) {
    for (const r of city.tick(new Date(PEAK + t * tickSeconds * 1000))) {
      const { deviceId: _d, seq: _s, ts: _t, ...rest } = r.payload as unknown as Record<string, unknown>;
      const tail = JSON.stringify(rest).slice(1);
      let entry = byDevice.get(r.deviceId);
      if (!entry) byDevice.set(r.deviceId, (entry = { deviceId: r.deviceId, kind: r.kind, topic: r.topic, tails: [] }));
      entry.tails.push(tail);
      const payload = payloadHead(r.deviceId, 1, isoMicros(Date.now() * 1000)) + tail;
      bytes += payload.length;
      count++;
      if (r.kind === 'lamppost') {
        lampBytes += payload.length;
        lampCount++;
      }
      samples.push({ topic: r.topic, payload });
    }
  }
  // The gateway's own ingest stage (validation, minimization, pseudonyms) on every template, for
  // the size of a readings record and the number of records per reading (phones linger, so later
  // ticks carry more sightings than the first).
  const policy = loadPolicy(DEFAULT_POLICY_PATH);
  const pseudonymizers = createPseudonymizers(policy, createKindKeyProviders(policy));
  // The services' default of 3 input partitions, as the bench runs them: a reading's sightings go in one record per partition.
  const ingest = createIngestStage({ policy, fleet, pseudonymizers, sightingsPartition: (p) => partitionOf(p, DEFAULT_INPUT_PARTITIONS) });
  let recordBytes = 0;
  let records = 0;
  let sightings = 0;
  let sample = '';
  for (const s of samples) {
    const result = await ingest.ingest(s.topic, Buffer.from(s.payload));
    if (!result.ok) throw new Error(`the gateway's ingest stage refuses a bench payload: ${result.rejected.reason} ${result.rejected.detail}`);
    recordBytes += Buffer.byteLength(result.records[0]!.value);
    if (!sample && result.kind === 'lamppost') sample = result.records[0]!.value;
    records += result.records.length;
    sightings += result.sightings;
  }
  return {
    devices: [...byDevice.values()],
    meanPayloadBytes: Math.round(bytes / count),
    lamppostPayloadBytes: Math.round(lampBytes / lampCount),
    readingRecordBytes: Math.round(recordBytes / samples.length),
    readingRecordSample: sample,
    recordsPerReading: records / samples.length,
    sightingsPerReading: sightings / samples.length,
    simulatedAt: new Date(PEAK).toISOString(),
  };
}
