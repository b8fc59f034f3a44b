// The bad-input catalogue: every kind of wrong, hostile or odd message a device (or someone
// holding a device's credentials) can send, with what Lethe must do about it. Shared by the
// unit test (through the gateway's ingest stage and its metrics) and the integration test
// (through real Mosquitto, the gateway process and Kafka).
//
// Outcomes:
//   rejected      the gateway refuses it with one of the closed REJECT_REASONS: it goes to
//                 lethe.rejected.v1 with a value-free excerpt and is counted in
//                 lethe_gateway_messages_rejected_total{reason}
//   accepted      the gateway forwards it, and says what it did (unknown fields stripped, ...)
//   deduplicated  the gateway forwards every copy (it keeps no per-message state); the
//                 processor counts the reading once (deviceId:seq per window)
//   sequence-gap  the gateway forwards it and counts the skipped numbers in
//                 lethe_gateway_sequence_gaps_total{kind}; nothing is refused
// Every case names the values in it that must never reach a rejected record, a log line or a
// metric (canaries: MACs, plates and text from test/support/canaries.ts).
import type { RejectReason } from '@lethe/schemas';
import type { Canaries } from '../support/canaries.ts';

export type Expected =
  | { outcome: 'rejected'; reason: RejectReason; handledBy: string; /** What the refusal's detail must say (it names fields, never values). */ detail: RegExp }
  | { outcome: 'accepted'; handledBy: string; note: string; sightings?: number; /** The event time the forwarded reading must carry. */ ts?: number }
  | { outcome: 'deduplicated'; handledBy: string; note: string; distinct: number }
  | { outcome: 'sequence-gap'; handledBy: string; note: string; gaps: number };

export interface BadInputMessage {
  topic: string;
  payload: Buffer;
}

export interface BadInputCase {
  name: string;
  /** What could go wrong with such input. */
  risk: string;
  /** The device that sends it (its MQTT user in the integration test). */
  device: string;
  /** Sent in this order; a rejected case's messages are each rejected. */
  messages: BadInputMessage[];
  expected: Expected;
  /** Values of the input that no rejected record, log line or metric may repeat. */
  canaries: string[];
  /** Whether it can be published through Mosquitto as `device`, or why not. */
  mqtt: 'publish' | { unreachable: string };
}

export interface CatalogueOptions {
  /** The gateway's clock at publication (ms). */
  now: number;
  canaries: Canaries;
  /** Next sequence number of a device; accepted cases take theirs from here so no accidental gap appears. */
  nextSeq: (deviceId: string) => number;
}

export const LAMPPOST = 'LP-0001';
export const TRAFFIC_LIGHT = 'TL-0001';
export const SEWER = 'SW-0001';
export const CATALOGUE_DEVICES = [LAMPPOST, TRAFFIC_LIGHT, SEWER] as const;
/** Devices of the good readings sent between the cases: other devices, so they leave the catalogue devices' sequences alone. */
export const GOOD_DEVICES = ['LP-0003', 'TL-0003', 'SW-0003'] as const;

const KIND_OF: Record<string, string> = { LP: 'lamppost', TL: 'traffic-light', SW: 'sewer' };
/** The device's own reading topic. */
export const topicOf = (deviceId: string) => `lethe/v1/${KIND_OF[deviceId.slice(0, 2)]}/${deviceId}/reading`;

const iso = (ms: number) => new Date(ms).toISOString();
const json = (value: unknown) => Buffer.from(JSON.stringify(value));
const text = (value: string) => Buffer.from(value, 'utf8');
/** Sequence number of messages that are refused anyway: they must not move a device's sequence. */
const REFUSED_SEQ = 1;

/** A valid lamppost reading (probes optional). */
export function lamppostReading(deviceId: string, seq: number, ts: number, macs: readonly string[] = [], extra: Record<string, unknown> = {}) {
  return {
    deviceId,
    seq,
    ts: iso(ts),
    pm25: 12.5,
    pm10: 20,
    no2: 31,
    noiseDba: 61.5,
    lux: 120,
    temperatureC: 24.5,
    humidityPct: 71,
    dimmingPct: 40,
    energyWh: 3.5,
    wifiProbes: macs.map((mac) => ({ mac, rssi: -60 })),
    ...extra,
  };
}

/** A valid traffic-light reading (plate reads optional). */
export function trafficReading(deviceId: string, seq: number, ts: number, plates: readonly string[] = [], extra: Record<string, unknown> = {}) {
  return {
    deviceId,
    seq,
    ts: iso(ts),
    phase: 'green',
    vehicleCount: 7,
    occupancyPct: 18.5,
    queueLength: 2,
    meanSpeedKmh: 38,
    plateReads: plates.map((plate) => ({ plate, speedKmh: 42 })),
    ...extra,
  };
}

/** A valid sewer reading. */
export function sewerReading(deviceId: string, seq: number, ts: number, extra: Record<string, unknown> = {}) {
  return { deviceId, seq, ts: iso(ts), levelCm: 42.5, flowLps: 160, h2sPpm: 1.25, temperatureC: 22.5, overflow: false, ...extra };
}

/** A good reading of one of the catalogue's devices, to interleave with the bad ones. */
export function goodReading(deviceId: string, seq: number, ts: number): BadInputMessage {
  const payload = deviceId.startsWith('LP')
    ? lamppostReading(deviceId, seq, ts)
    : deviceId.startsWith('TL')
      ? trafficReading(deviceId, seq, ts)
      : sewerReading(deviceId, seq, ts);
  return { topic: topicOf(deviceId), payload: json(payload) };
}

export function badInputCatalogue({ now, canaries, nextSeq }: CatalogueOptions): BadInputCase[] {
  const cases: BadInputCase[] = [];
  const rejected = (reason: RejectReason, handledBy: string, detail: RegExp): Expected => ({ outcome: 'rejected', reason, handledBy, detail });
  const add = (c: Omit<BadInputCase, 'mqtt'> & { mqtt?: BadInputCase['mqtt'] }) => cases.push({ mqtt: 'publish', ...c });
  const LP = topicOf(LAMPPOST);
  const TL = topicOf(TRAFFIC_LIGHT);
  const SW = topicOf(SEWER);
  const schema = "gateway: the kind's zod schema (packages/schemas/src/readings.ts) in ingest.ts";
  const parser = 'gateway: JSON.parse in ingest.ts';
  const decoder = 'gateway: the strict UTF-8 decoder in ingest.ts';

  // --- Not JSON at all ---------------------------------------------------------------------
  {
    const mac = canaries.mac();
    add({
      name: 'malformed JSON',
      risk: 'a parser error message could echo the input',
      device: LAMPPOST,
      messages: [{ topic: LP, payload: text(`{deviceId: LP-0001, "mac": "${mac}", }`) }],
      expected: rejected('NOT_JSON', parser, /not valid JSON/),
      canaries: [mac],
    });
  }
  {
    const mac = canaries.mac();
    const whole = JSON.stringify(lamppostReading(LAMPPOST, REFUSED_SEQ, now, [mac, canaries.mac()]));
    add({
      name: 'truncated JSON',
      risk: 'a message cut by the network holds a MAC before the cut',
      device: LAMPPOST,
      messages: [{ topic: LP, payload: text(whole.slice(0, whole.indexOf(mac) + mac.length + 3)) }],
      expected: rejected('NOT_JSON', parser, /not valid JSON/),
      canaries: [mac],
    });
  }
  add({
    name: 'empty payload',
    risk: 'a zero-length message (MQTT allows it)',
    device: SEWER,
    messages: [{ topic: SW, payload: Buffer.alloc(0) }],
    expected: rejected('NOT_JSON', parser, /not valid JSON/),
    canaries: [],
  });
  add({
    name: 'NaN and Infinity literals',
    risk: 'JavaScript-style JSON that JSON cannot carry',
    device: SEWER,
    messages: [
      {
        topic: SW,
        payload: text(`{"deviceId":"SW-0001","seq":1,"ts":"${iso(now)}","levelCm":NaN,"flowLps":Infinity,"h2sPpm":1,"temperatureC":20,"overflow":false}`),
      },
    ],
    expected: rejected('NOT_JSON', parser, /not valid JSON/),
    canaries: [],
  });
  {
    const mac = canaries.mac();
    const binary = Buffer.concat([
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0xff, 0xfe]),
      Buffer.from(mac, 'latin1'),
      Buffer.from([0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1, 0xf0, 0x90, 0x28, 0xbc]),
    ]);
    add({
      name: 'binary payload',
      risk: 'an image or a firmware blob on the reading topic',
      device: TRAFFIC_LIGHT,
      messages: [{ topic: TL, payload: binary }],
      expected: rejected('NOT_JSON', decoder, /not valid UTF-8/),
      canaries: [mac],
    });
  }
  {
    const plate = canaries.plate();
    // Valid JSON around an invalid UTF-8 byte (0xFF) in a field the schema would strip: decoded, it
    // would become U+FFFD and pass; JSON text must be UTF-8 (RFC 8259), so it is refused.
    const valid = Buffer.from(JSON.stringify(trafficReading(TRAFFIC_LIGHT, REFUSED_SEQ, now, [plate], { note: 'x' })), 'utf8');
    const at = valid.indexOf('"note":"x"') + '"note":"'.length;
    const payload = Buffer.concat([valid.subarray(0, at), Buffer.from([0xff, 0x41]), valid.subarray(at)]);
    add({
      name: 'invalid UTF-8 inside a JSON string',
      risk: 'bytes that are not text, hidden where the schema does not look',
      device: TRAFFIC_LIGHT,
      messages: [{ topic: TL, payload }],
      expected: rejected('NOT_JSON', decoder, /not valid UTF-8/),
      canaries: [plate],
    });
  }
  {
    // "/" encoded in two bytes (C0 AF): the classic overlong encoding used to sneak past filters.
    const payload = Buffer.concat([text('{"deviceId":"SW-0001'), Buffer.from([0xc0, 0xaf]), text(`","seq":1,"ts":"${iso(now)}"}`)]);
    add({
      name: 'overlong UTF-8 encoding',
      risk: 'a filter bypass through a non-shortest encoding',
      device: SEWER,
      messages: [{ topic: SW, payload }],
      expected: rejected('NOT_JSON', decoder, /not valid UTF-8/),
      canaries: [],
    });
  }
  {
    const payload = Buffer.concat([text('{"deviceId":"SW-0001","seq":1,'), Buffer.from([0x00]), text(`"ts":"${iso(now)}"}`)]);
    add({
      name: 'NUL byte outside a string',
      risk: 'C-string truncation in a downstream tool',
      device: SEWER,
      messages: [{ topic: SW, payload }],
      expected: rejected('NOT_JSON', parser, /not valid JSON/),
      canaries: [],
    });
  }

  // --- JSON, but not a reading -------------------------------------------------------------
  {
    const mac = canaries.mac();
    add({
      name: 'JSON array instead of an object',
      risk: 'a batch of readings in one message',
      device: LAMPPOST,
      messages: [{ topic: LP, payload: json([lamppostReading(LAMPPOST, REFUSED_SEQ, now, [mac])]) }],
      expected: rejected('SCHEMA_VIOLATION', schema, /^\(root\): .*expected object, received array/),
      canaries: [mac],
    });
  }
  add({
    name: 'JSON number',
    risk: 'a bare value',
    device: SEWER,
    messages: [{ topic: SW, payload: text('42') }],
    expected: rejected('SCHEMA_VIOLATION', schema, /^\(root\): .*expected object, received number/),
    canaries: [],
  });
  {
    const mac = canaries.mac();
    add({
      name: 'JSON string holding a MAC',
      risk: 'the excerpt must not quote the string',
      device: LAMPPOST,
      messages: [{ topic: LP, payload: json(mac) }],
      expected: rejected('SCHEMA_VIOLATION', schema, /^\(root\): .*expected object, received string/),
      canaries: [mac],
    });
  }
  add({
    name: 'JSON null',
    risk: 'a null payload must not crash property access',
    device: SEWER,
    messages: [{ topic: SW, payload: text('null') }],
    expected: rejected('SCHEMA_VIOLATION', schema, /^\(root\): .*expected object, received null/),
    canaries: [],
  });
  add({
    name: 'wrong types',
    risk: 'numbers as strings, booleans as numbers',
    device: SEWER,
    messages: [{ topic: SW, payload: json(sewerReading(SEWER, REFUSED_SEQ, now, { seq: '1', levelCm: '42.5', overflow: 1 })) }],
    expected: rejected('SCHEMA_VIOLATION', schema, /seq: .*received string; levelCm: .*received string; overflow: .*expected boolean/),
    canaries: [],
  });
  {
    const { levelCm: _l, ts: _t, ...missing } = sewerReading(SEWER, REFUSED_SEQ, now);
    add({
      name: 'missing required fields',
      risk: 'a reading without its time or its measurement',
      device: SEWER,
      messages: [{ topic: SW, payload: json(missing) }],
      expected: rejected('SCHEMA_VIOLATION', schema, /ts: .*received undefined; levelCm: .*received undefined/),
      canaries: [],
    });
  }
  add({
    name: 'value out of the allowed range',
    risk: 'a broken sensor reporting 5000 °C',
    device: SEWER,
    messages: [{ topic: SW, payload: json(sewerReading(SEWER, REFUSED_SEQ, now, { temperatureC: 5000 })) }],
    expected: rejected('SCHEMA_VIOLATION', schema, /^temperatureC: Too big/),
    canaries: [],
  });
  add({
    name: 'signal phase outside its enum',
    risk: 'free text where a closed set is expected',
    device: TRAFFIC_LIGHT,
    messages: [{ topic: TL, payload: json(trafficReading(TRAFFIC_LIGHT, REFUSED_SEQ, now, [], { phase: 'purple' })) }],
    expected: rejected('SCHEMA_VIOLATION', schema, /^phase: Invalid option/),
    canaries: [],
  });
  {
    const plate = canaries.plate();
    add({
      name: 'plate read speed out of range',
      risk: 'one bad speed inside an otherwise valid read',
      device: TRAFFIC_LIGHT,
      messages: [{ topic: TL, payload: json({ ...trafficReading(TRAFFIC_LIGHT, REFUSED_SEQ, now), plateReads: [{ plate, speedKmh: 1e6 }] }) }],
      expected: rejected('SCHEMA_VIOLATION', schema, /^plateReads\.0\.speedKmh: Too big/),
      canaries: [plate],
    });
  }

  // --- Numbers -----------------------------------------------------------------------------
  add({
    name: 'Infinity through 1e999',
    risk: 'JSON.parse turns 1e999 into Infinity, which would poison means and sums',
    device: SEWER,
    messages: [
      { topic: SW, payload: text(JSON.stringify(sewerReading(SEWER, REFUSED_SEQ, now, { flowLps: 160 })).replace('"flowLps":160', '"flowLps":1e999')) },
    ],
    expected: rejected('SCHEMA_VIOLATION', schema, /^flowLps: .*received Infinity/),
    canaries: [],
  });
  add({
    name: 'negative Infinity through -1e999 in a sequence number',
    risk: 'an infinite seq would break deduplication',
    device: SEWER,
    messages: [{ topic: SW, payload: text(JSON.stringify(sewerReading(SEWER, 123, now)).replace('"seq":123', '"seq":-1e999')) }],
    expected: rejected('SCHEMA_VIOLATION', schema, /^seq: .*received -Infinity/),
    canaries: [],
  });
  add({
    name: 'negative sequence number',
    risk: 'seq counts up from 0',
    device: SEWER,
    messages: [{ topic: SW, payload: json(sewerReading(SEWER, -1, now)) }],
    expected: rejected('SCHEMA_VIOLATION', schema, /^seq: Too small/),
    canaries: [],
  });
  add({
    name: 'sequence number beyond the safe integer range',
    risk: '2^53 + 1 cannot be told apart from 2^53, so two readings would share an id',
    device: SEWER,
    messages: [{ topic: SW, payload: text(JSON.stringify(sewerReading(SEWER, 123, now)).replace('"seq":123', '"seq":9007199254740993')) }],
    expected: rejected('SCHEMA_VIOLATION', schema, /^seq: Too big/),
    canaries: [],
  });
  add({
    name: 'fractional sequence number',
    risk: 'seq is a counter',
    device: SEWER,
    messages: [{ topic: SW, payload: json(sewerReading(SEWER, 1.5, now)) }],
    expected: rejected('SCHEMA_VIOLATION', schema, /^seq: .*expected int/),
    canaries: [],
  });

  // --- Time --------------------------------------------------------------------------------
  add({
    name: 'timestamp far in the future',
    risk: 'a record stamped ahead would outlive the TTL on disk',
    device: SEWER,
    messages: [{ topic: SW, payload: json(sewerReading(SEWER, REFUSED_SEQ, now + 3_600_000)) }],
    expected: rejected('TIMESTAMP_IN_FUTURE', "gateway: the clock check in ingest.ts (the policy's rawData.maxFutureSkew, 30 s)", /ahead of the gateway clock/),
    canaries: [],
  });
  add({
    name: 'timestamp far in the past',
    risk: 'data older than the raw-data TTL must not enter the pipeline',
    device: SEWER,
    messages: [{ topic: SW, payload: json(sewerReading(SEWER, REFUSED_SEQ, now - 86_400_000)) }],
    expected: rejected('TIMESTAMP_TOO_OLD', 'gateway: the clock check in ingest.ts (the policy raw-data TTL)', /older than the raw-data TTL/),
    canaries: [],
  });
  {
    const mac = canaries.mac();
    add({
      name: 'replay of a message older than the TTL',
      risk: 'a captured message replayed later would resurrect a deleted sighting',
      device: LAMPPOST,
      messages: [{ topic: LP, payload: json(lamppostReading(LAMPPOST, REFUSED_SEQ, now - 20 * 60_000, [mac])) }],
      expected: rejected('TIMESTAMP_TOO_OLD', 'gateway: the clock check in ingest.ts (the policy raw-data TTL)', /older than the raw-data TTL/),
      canaries: [mac],
    });
  }
  add({
    name: 'timestamp not ISO 8601',
    risk: 'a locale-formatted date parsed differently by each component',
    device: SEWER,
    messages: [{ topic: SW, payload: json(sewerReading(SEWER, REFUSED_SEQ, now, { ts: '01/02/2026 08:00' })) }],
    expected: rejected('SCHEMA_VIOLATION', schema, /^ts: Invalid ISO datetime/),
    canaries: [],
  });
  add({
    name: 'timestamp without a UTC offset',
    risk: 'local time is ambiguous',
    device: SEWER,
    messages: [{ topic: SW, payload: json(sewerReading(SEWER, REFUSED_SEQ, now, { ts: iso(now).replace('Z', '') })) }],
    expected: rejected('SCHEMA_VIOLATION', schema, /^ts: Invalid ISO datetime/),
    canaries: [],
  });
  add({
    name: 'timestamp as epoch milliseconds',
    risk: 'a number where a time string is expected',
    device: SEWER,
    messages: [{ topic: SW, payload: json(sewerReading(SEWER, REFUSED_SEQ, now, { ts: now })) }],
    expected: rejected('SCHEMA_VIOLATION', schema, /^ts: .*expected string, received number/),
    canaries: [],
  });
  add({
    name: 'timestamp on a day that does not exist',
    risk: 'Date.parse would roll 30 February over to March',
    device: SEWER,
    messages: [{ topic: SW, payload: json(sewerReading(SEWER, REFUSED_SEQ, now, { ts: '2026-02-30T08:00:00Z' })) }],
    expected: rejected('SCHEMA_VIOLATION', schema, /^ts: Invalid ISO datetime/),
    canaries: [],
  });

  // --- Who sent it -------------------------------------------------------------------------
  add({
    name: 'unknown device',
    risk: 'a device that is not in the fleet registry',
    device: LAMPPOST,
    messages: [{ topic: 'lethe/v1/lamppost/LP-0999/reading', payload: json(lamppostReading('LP-0999', REFUSED_SEQ, now)) }],
    expected: rejected('UNKNOWN_DEVICE', 'gateway: the fleet registry in ingest.ts', /not in the fleet registry/),
    canaries: [],
    mqtt: { unreachable: "Mosquitto has no user LP-0999, and the %u ACL lets no device write another device's topic" },
  });
  add({
    name: 'payload names another device than the topic',
    risk: 'a device speaking for its neighbour',
    device: LAMPPOST,
    messages: [{ topic: LP, payload: json(lamppostReading('LP-0002', REFUSED_SEQ, now)) }],
    expected: rejected('TOPIC_DEVICE_MISMATCH', 'gateway: the topic/payload check in ingest.ts', /deviceId in the payload differs from the topic/),
    canaries: [],
  });
  add({
    name: 'topic kind differs from the device kind',
    risk: 'a lamppost publishing as a sewer (the ACL allows any kind segment)',
    device: LAMPPOST,
    messages: [{ topic: 'lethe/v1/sewer/LP-0001/reading', payload: json(sewerReading(LAMPPOST, REFUSED_SEQ, now)) }],
    expected: rejected('TOPIC_DEVICE_MISMATCH', 'gateway: the fleet registry in ingest.ts', /device is a lamppost, topic says sewer/),
    canaries: [],
  });
  add({
    name: 'unknown kind in the topic',
    risk: 'a topic the gateway subscribes to but does not know',
    device: SEWER,
    messages: [{ topic: 'lethe/v1/streetlamp/SW-0001/reading', payload: json(sewerReading(SEWER, REFUSED_SEQ, now)) }],
    expected: rejected('INVALID_TOPIC', 'gateway: parseReadingTopic in ingest.ts', /topic must be/),
    canaries: [],
  });
  {
    const mac = canaries.mac();
    add({
      name: 'MAC address as a topic level',
      risk: 'the rejected record must not quote a topic that is not ours',
      device: LAMPPOST,
      messages: [{ topic: `lethe/v1/${mac}/LP-0001/reading`, payload: json(lamppostReading(LAMPPOST, REFUSED_SEQ, now)) }],
      expected: rejected('INVALID_TOPIC', 'gateway: parseReadingTopic in ingest.ts (the topic is replaced by its length)', /topic must be/),
      canaries: [mac],
    });
  }

  // --- Size and shape ----------------------------------------------------------------------
  {
    const plate = canaries.plate();
    const padding = `${canaries.text('pad')} ${plate} `.repeat(3000);
    add({
      name: 'oversized payload',
      risk: 'memory and Kafka message size; the excerpt of a huge message',
      device: TRAFFIC_LIGHT,
      messages: [{ topic: TL, payload: json(trafficReading(TRAFFIC_LIGHT, REFUSED_SEQ, now, [plate], { padding })) }],
      expected: rejected('OVERSIZED', 'gateway: the payload size limit in ingest.ts (MAX_PAYLOAD_BYTES, 64 KiB)', /limit 65536/),
      canaries: [plate],
    });
  }
  add({
    name: 'deeply nested JSON',
    risk: 'a recursive parser or redactor would overflow its stack',
    device: SEWER,
    messages: [{ topic: SW, payload: text(`${'['.repeat(30_000)}${']'.repeat(30_000)}`) }],
    expected: rejected('SCHEMA_VIOLATION', schema + ' (JSON.parse is iterative; the excerpt stops at depth 3)', /^\(root\): .*expected object, received array/),
    canaries: [],
  });
  {
    const macs = Array.from({ length: 501 }, () => canaries.mac());
    add({
      name: '501 Wi-Fi probes in one reading',
      risk: 'more sightings than the schema allows per reading',
      device: LAMPPOST,
      messages: [{ topic: LP, payload: json(lamppostReading(LAMPPOST, REFUSED_SEQ, now, macs)) }],
      expected: rejected('SCHEMA_VIOLATION', schema + ' (wifiProbes ≤ 500)', /^wifiProbes: Too big/),
      canaries: macs,
    });
  }
  {
    const wide: Record<string, unknown> = { deviceId: 42 };
    const words: string[] = [];
    for (let i = 0; i < 3000; i++) wide[i % 100 === 0 ? words[words.push(canaries.text('key')) - 1]! : `k${i}`] = i;
    add({
      name: 'thousands of unknown keys in an invalid reading',
      risk: 'an excerpt that lists every key would be huge and would quote them',
      device: SEWER,
      messages: [{ topic: SW, payload: json(wide) }],
      expected: rejected('SCHEMA_VIOLATION', schema + ' (the excerpt shows unknown keys as ?, at most 30)', /^deviceId: .*expected string, received number/),
      canaries: words,
    });
  }

  // --- Odd text ----------------------------------------------------------------------------
  add({
    name: 'lone surrogate in the device id',
    risk: 'a string no UTF-8 encoder can write',
    device: LAMPPOST,
    messages: [{ topic: LP, payload: text(JSON.stringify(lamppostReading(LAMPPOST, REFUSED_SEQ, now)).replace('"LP-0001"', '"LP-0001\\ud800"')) }],
    expected: rejected('SCHEMA_VIOLATION', schema, /^deviceId: must look like LP-0001/),
    canaries: [],
  });
  add({
    name: 'full-width digits in the device id',
    risk: 'a look-alike id (LP-０００１)',
    device: LAMPPOST,
    messages: [{ topic: LP, payload: json(lamppostReading('LP-０００１', REFUSED_SEQ, now)) }],
    expected: rejected('SCHEMA_VIOLATION', schema, /^deviceId: must look like LP-0001/),
    canaries: [],
  });
  add({
    name: 'NUL character in the device id',
    risk: 'C-string truncation would make it LP-0001',
    device: LAMPPOST,
    messages: [{ topic: LP, payload: json(lamppostReading('LP-0001\u0000', REFUSED_SEQ, now)) }],
    expected: rejected('SCHEMA_VIOLATION', schema, /^deviceId: must look like LP-0001/),
    canaries: [],
  });
  {
    const plate = canaries.plate();
    add({
      name: 'right-to-left override in a plate',
      risk: 'a plate that displays differently from what it is',
      device: TRAFFIC_LIGHT,
      messages: [{ topic: TL, payload: json(trafficReading(TRAFFIC_LIGHT, REFUSED_SEQ, now, [`\u202e${plate}`])) }],
      expected: rejected('SCHEMA_VIOLATION', schema, /^plateReads\.0\.plate: must be an upper-case licence plate/),
      canaries: [plate],
    });
  }
  {
    const mac = canaries.mac();
    add({
      name: 'zero-width space inside a MAC',
      risk: 'the same phone under a second spelling would get a second pseudonym',
      device: LAMPPOST,
      messages: [{ topic: LP, payload: json(lamppostReading(LAMPPOST, REFUSED_SEQ, now, [`${mac.slice(0, 8)}\u200b${mac.slice(8)}`])) }],
      expected: rejected('SCHEMA_VIOLATION', schema, /^wifiProbes\.0\.mac: must be a MAC address/),
      canaries: [mac.slice(0, 8), mac.slice(8)],
    });
  }
  {
    const plate = canaries.plate();
    add({
      name: 'lower-case plate',
      risk: 'a second spelling of the same plate',
      device: TRAFFIC_LIGHT,
      messages: [{ topic: TL, payload: json(trafficReading(TRAFFIC_LIGHT, REFUSED_SEQ, now, [plate.toLowerCase()])) }],
      expected: rejected('SCHEMA_VIOLATION', schema, /^plateReads\.0\.plate: must be an upper-case licence plate/),
      canaries: [plate, plate.toLowerCase()],
    });
  }

  // --- Identifiers where they do not belong --------------------------------------------------
  {
    const mac = canaries.mac();
    add({
      name: 'MAC address as the device id',
      risk: 'the detail and excerpt of a refused message must not quote it',
      device: LAMPPOST,
      messages: [{ topic: LP, payload: json(lamppostReading(mac, REFUSED_SEQ, now)) }],
      expected: rejected('SCHEMA_VIOLATION', schema, /^deviceId: must look like LP-0001/),
      canaries: [mac],
    });
  }
  {
    const plate = canaries.plate();
    const payload = { [plate]: 'AB', ...trafficReading(TRAFFIC_LIGHT, REFUSED_SEQ, now, [], { vehicleCount: -1 }) };
    add({
      name: 'plate as an object key',
      risk: 'the excerpt shows keys, so unknown keys must be masked',
      device: TRAFFIC_LIGHT,
      messages: [{ topic: TL, payload: json(payload) }],
      expected: rejected('SCHEMA_VIOLATION', schema, /^vehicleCount: Too small/),
      canaries: [plate],
    });
  }
  {
    const mac = canaries.mac();
    const plate = canaries.plate();
    const ssid = canaries.text('ssid');
    const seq = nextSeq(LAMPPOST);
    const reading = { ...lamppostReading(LAMPPOST, seq, now, [mac]), wifiProbes: [{ mac, rssi: -50, ssids: [ssid, plate] }] };
    add({
      name: 'identifiers in fields the policy drops',
      risk: 'an SSID or a plate typed into a quasi-identifier field',
      device: LAMPPOST,
      messages: [{ topic: LP, payload: json(reading) }],
      expected: {
        outcome: 'accepted',
        handledBy: 'gateway: minimization in ingest.ts (ssids and rssi are drop)',
        note: 'accepted; the SSIDs are dropped and the MAC pseudonymized',
        sightings: 1,
      },
      canaries: [mac, plate, ssid],
    });
  }

  // --- Prototype pollution -----------------------------------------------------------------
  {
    const seq = nextSeq(SEWER);
    const body = JSON.stringify(sewerReading(SEWER, seq, now));
    const hostile = `{"__proto__":{"polluted":"yes","deviceId":"SW-0002"},"constructor":{"prototype":{"polluted":"yes"}},"prototype":{"polluted":"yes"},${body.slice(1)}`;
    add({
      name: 'prototype-pollution keys in a valid reading',
      risk: '__proto__, constructor and prototype keys must not reach Object.prototype or the record',
      device: SEWER,
      messages: [{ topic: SW, payload: text(hostile) }],
      expected: {
        outcome: 'accepted',
        handledBy: 'gateway: the zod schema strips unknown keys; JSON.parse makes __proto__ an own property',
        note: 'accepted with the hostile keys stripped; Object.prototype untouched',
      },
      canaries: ['polluted'],
    });
  }
  {
    const mac = canaries.mac();
    const { wifiProbes: _w, ...rest } = lamppostReading(LAMPPOST, REFUSED_SEQ, now);
    const hostile = `{"__proto__":{"polluted":"yes"},"wifiProbes":[{"__proto__":{"mac":"${mac}"},"mac":5}],${JSON.stringify(rest).slice(1)}`;
    add({
      name: 'prototype-pollution keys in an invalid reading',
      risk: 'the redactor walks the refused object and must not follow __proto__',
      device: LAMPPOST,
      messages: [{ topic: LP, payload: text(hostile) }],
      expected: rejected('SCHEMA_VIOLATION', schema, /^wifiProbes\.0\.mac: .*expected string, received number/),
      canaries: [mac, 'polluted'],
    });
  }

  // --- Accepted with a note ----------------------------------------------------------------
  {
    const note = canaries.text('owner');
    const seq = nextSeq(LAMPPOST);
    add({
      name: 'extra unknown fields',
      risk: 'a device sending more than the policy names (e.g. an owner name)',
      device: LAMPPOST,
      messages: [{ topic: LP, payload: json(lamppostReading(LAMPPOST, seq, now, [], { ownerName: note, firmware: { build: note } })) }],
      expected: {
        outcome: 'accepted',
        handledBy: 'gateway: the zod schema strips unknown keys (minimization, default deny)',
        note: 'accepted, not rejected: unknown fields are stripped and never forwarded',
      },
      canaries: [note],
    });
  }
  {
    const seq = nextSeq(SEWER);
    add({
      name: 'duplicate keys in the JSON object',
      risk: 'two parsers could pick different values',
      device: SEWER,
      messages: [{ topic: SW, payload: text(JSON.stringify(sewerReading(SEWER, seq, now)).replace('{', '{"deviceId":"SW-0002",')) }],
      expected: {
        outcome: 'accepted',
        handledBy: 'gateway: JSON.parse keeps the last occurrence, which is what the schema and the topic check see',
        note: 'accepted as SW-0001 (the last deviceId)',
      },
      canaries: [],
    });
  }
  {
    const seq = nextSeq(SEWER);
    add({
      name: 'UTF-8 byte-order mark',
      risk: 'some device stacks prefix JSON with a BOM',
      device: SEWER,
      messages: [{ topic: SW, payload: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), json(sewerReading(SEWER, seq, now))]) }],
      expected: { outcome: 'accepted', handledBy: 'gateway: the UTF-8 decoder skips a leading BOM (RFC 8259 allows ignoring it)', note: 'accepted' },
      canaries: [],
    });
  }
  {
    const seq = nextSeq(SEWER);
    const at = now - 2_000;
    add({
      name: 'timestamp with a 13-digit fraction of a second',
      risk: 'V8\'s Date.parse reads ".0009997040009" as 999 ms, not 0 (found by the property tests)',
      device: SEWER,
      messages: [{ topic: SW, payload: json(sewerReading(SEWER, seq, at, { ts: iso(at).replace(/\.\d{3}Z$/, '.0009997040009Z') })) }],
      expected: {
        outcome: 'accepted',
        handledBy: 'gateway: readingTime() in ingest.ts cuts digits after the milliseconds before Date.parse',
        note: 'accepted, stamped to the millisecond',
        ts: Math.floor(at / 1000) * 1000,
      },
      canaries: [],
    });
  }
  {
    const macs = Array.from({ length: 500 }, () => canaries.mac());
    const seq = nextSeq(LAMPPOST);
    add({
      name: '500 Wi-Fi probes in one reading (the limit)',
      risk: 'a crowd: the largest batch of sightings one message may carry',
      device: LAMPPOST,
      messages: [{ topic: LP, payload: json(lamppostReading(LAMPPOST, seq, now, macs)) }],
      expected: { outcome: 'accepted', handledBy: 'gateway: ingest.ts pseudonymizes every MAC', note: 'accepted: 500 pseudonymous sightings', sightings: 500 },
      canaries: macs,
    });
  }
  {
    const seq = nextSeq(SEWER);
    const payload = JSON.stringify(sewerReading(SEWER, seq, now)).replace(
      '"overflow":false',
      `"overflow":false,"blob":${'['.repeat(10_000)}${']'.repeat(10_000)}`,
    );
    add({
      name: 'deeply nested JSON in an unknown field of a valid reading',
      risk: 'depth hidden where the schema does not look',
      device: SEWER,
      messages: [{ topic: SW, payload: text(payload) }],
      expected: {
        outcome: 'accepted',
        handledBy: 'gateway: JSON.parse is iterative and the schema strips the field',
        note: 'accepted with the field stripped',
      },
      canaries: [],
    });
  }

  // --- Duplicates, replays and gaps --------------------------------------------------------
  {
    const seq = nextSeq(SEWER);
    const m = goodReading(SEWER, seq, now);
    add({
      name: 'duplicate message',
      risk: 'QoS 1 redelivery: the same message twice',
      device: SEWER,
      messages: [m, m],
      expected: {
        outcome: 'deduplicated',
        handledBy: 'processor: its window stage counts a reading once per deviceId:seq and window (packages/privacy/src/partials.ts)',
        note: 'both forwarded by the gateway, counted once by the processor',
        distinct: 1,
      },
      canaries: [],
    });
  }
  {
    const first = goodReading(TRAFFIC_LIGHT, nextSeq(TRAFFIC_LIGHT), now);
    const second = goodReading(TRAFFIC_LIGHT, nextSeq(TRAFFIC_LIGHT), now + 1000);
    add({
      name: 'replay of a recent message',
      risk: 'a captured message sent again within the TTL',
      device: TRAFFIC_LIGHT,
      messages: [first, second, first],
      expected: {
        outcome: 'deduplicated',
        handledBy:
          'processor: its window stage counts a reading once per deviceId:seq and window (partials.ts); a replay into a window already emitted is late and dropped',
        note: 'all forwarded by the gateway, the replay is not counted',
        distinct: 2,
      },
      canaries: [],
    });
  }
  {
    const before = nextSeq(LAMPPOST);
    for (let i = 0; i < 3; i++) nextSeq(LAMPPOST);
    const after = nextSeq(LAMPPOST);
    add({
      name: 'sequence gap',
      risk: 'readings lost before the gateway (radio, broker queue limits)',
      device: LAMPPOST,
      messages: [goodReading(LAMPPOST, before, now), goodReading(LAMPPOST, after, now + 1000)],
      expected: {
        outcome: 'sequence-gap',
        handledBy: 'gateway: sequence-gaps.ts, lethe_gateway_sequence_gaps_total{kind}',
        note: 'both accepted; 3 missing readings counted, nothing refused',
        gaps: 3,
      },
      canaries: [],
    });
  }
  return cases;
}
