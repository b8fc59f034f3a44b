// A small synthetic city for the processor's stages: lampposts that hear phones, traffic lights
// that read plates (with speeds, so trips and travel times happen), sewers, and environmental
// values with decimals (so floating-point sums are exercised). Deterministic per seed. Records
// come in time order, with the occasional redelivered copy, as the gateway writes them.
import { parsePolicy, type Policy } from '../../src/policy.ts';
import type { ReadingRecord, SightingRecord } from '@lethe/schemas';

export type CityRecord = { type: 'reading'; record: ReadingRecord } | { type: 'sighting'; record: SightingRecord };

/** Tiny seeded PRNG (mulberry32): tests must not depend on Math.random. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The shipped policy's rules with 10 s windows and 60 s epochs, so a short run crosses many of both. */
export function shortPolicy(): Policy {
  const kind = (title: string, fields: Record<string, unknown>) => ({
    title,
    description: `${title} (test)`,
    purposes: ['testing'],
    legalBasis: 'test',
    window: '10s',
    epoch: '60s',
    k: 5,
    epsilonPerRelease: 1,
    epsilonPerDay: 1_000_000,
    fields: {
      deviceId: { class: 'operational', treatment: 'keep' },
      seq: { class: 'operational', treatment: 'keep' },
      ts: { class: 'operational', treatment: 'keep' },
      ...fields,
    },
  });
  return parsePolicy({
    version: 1,
    id: 'synthetic',
    controller: 'test',
    contact: 'test@example.org',
    aggregates: { retention: '30d' },
    rawData: { ttl: '15m', segment: '1m', maxLateness: '60s' },
    kinds: {
      lamppost: kind('Lamppost', {
        pm25: { class: 'environmental', treatment: 'keep' },
        temperatureC: { class: 'environmental', treatment: 'keep', aggregate: ['mean', 'min', 'max'] },
        energyWh: { class: 'environmental', treatment: 'keep', aggregate: ['sum'] },
        'wifiProbes.mac': { class: 'direct-identifier', treatment: 'pseudonymize' },
      }),
      'traffic-light': kind('Traffic light', {
        occupancyPct: { class: 'environmental', treatment: 'keep' },
        vehicleCount: { class: 'person-derived', treatment: 'keep', aggregate: ['sum'] },
        'plateReads.plate': { class: 'direct-identifier', treatment: 'pseudonymize' },
        'plateReads.speedKmh': { class: 'person-derived', treatment: 'keep' },
      }),
      sewer: kind('Sewer', {
        levelCm: { class: 'environmental', treatment: 'keep' },
        overflow: { class: 'environmental', treatment: 'keep' },
      }),
    },
  });
}

export interface CityOptions {
  seed: number;
  start: number;
  seconds: number;
  /** Phones and cars around at any time. */
  phones?: number;
  cars?: number;
}

const pad = (s: string) => s.padEnd(22, '0');

export function syntheticCity({ seed, start, seconds, phones = 60, cars = 40 }: CityOptions): CityRecord[] {
  const random = seeded(seed);
  const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)]!;
  const lampposts = Array.from({ length: 6 }, (_, i) => ({ id: `LP-${String(i + 1).padStart(4, '0')}`, district: i < 3 ? 'north' : 'south' }));
  const lights = Array.from({ length: 5 }, (_, i) => ({ id: `TL-${String(i + 1).padStart(4, '0')}`, district: i < 2 ? 'east' : 'west' }));
  const sewers = Array.from({ length: 3 }, (_, i) => ({ id: `SW-${String(i + 1).padStart(4, '0')}`, district: i < 2 ? 'north' : 'harbour' }));
  const seq = new Map<string, number>();
  const next = (id: string) => {
    const n = seq.get(id) ?? 0;
    seq.set(id, n + 1);
    return n;
  };
  const epochOf = (ts: number) => Math.floor(ts / 60_000);
  // Phones stay near one lamppost (a crowd) or wander; cars drive along the lights.
  const phoneHome = Array.from({ length: phones }, (_, p) => (p % 3 === 0 ? Math.floor(random() * lampposts.length) : p % lampposts.length));
  const carAt = Array.from({ length: cars }, () => Math.floor(random() * lights.length));
  const out: CityRecord[] = [];
  for (let s = 0; s < seconds; s += 2) {
    const ts = start + s * 1000 + Math.floor(random() * 500);
    for (const lp of lampposts) {
      if (random() < 0.2) continue;
      const heard: string[] = [];
      for (let p = 0; p < phones; p++) {
        const here = random() < 0.85 ? lampposts[phoneHome[p]!]! : pick(lampposts);
        if (here.id === lp.id && random() < 0.5) heard.push(pad(`ph${epochOf(ts)}x${p}`));
      }
      const reading: ReadingRecord = {
        v: 1,
        kind: 'lamppost',
        deviceId: lp.id,
        district: lp.district,
        seq: next(lp.id),
        ts,
        values: { pm25: Math.round(random() * 1e4) / 100 + 0.1, temperatureC: 20 + random() * 10, energyWh: random() / 3 },
      };
      out.push({ type: 'reading', record: reading });
      heard.forEach((pseudonym) =>
        out.push({
          type: 'sighting',
          record: { v: 1, source: 'wifi', pseudonym, epoch: epochOf(ts), kind: 'lamppost', deviceId: lp.id, district: lp.district, ts },
        }),
      );
      if (random() < 0.05) out.push({ type: 'reading', record: { ...reading } });
    }
    for (const [l, light] of lights.entries()) {
      if (random() < 0.1) continue;
      const reads: Array<{ pseudonym: string; speedKmh?: number }> = [];
      for (let c = 0; c < cars; c++) {
        if (carAt[c] !== l || random() < 0.3) continue;
        reads.push({ pseudonym: pad(`car${epochOf(ts)}x${c}`), ...(random() < 0.9 ? { speedKmh: Math.round(random() * 1200) / 10 } : {}) });
        if (random() < 0.4) carAt[c] = (l + 1 + Math.floor(random() * 2)) % lights.length;
      }
      const reading: ReadingRecord = {
        v: 1,
        kind: 'traffic-light',
        deviceId: light.id,
        district: light.district,
        seq: next(light.id),
        ts,
        values: { occupancyPct: random() * 100, vehicleCount: Math.floor(random() * 12), phase: pick(['red', 'green']) },
      };
      out.push({ type: 'reading', record: reading });
      reads.forEach((r) => {
        const sighting: SightingRecord = {
          v: 1,
          source: 'plate',
          pseudonym: r.pseudonym,
          epoch: epochOf(ts),
          kind: 'traffic-light',
          deviceId: light.id,
          district: light.district,
          ts,
          ...(r.speedKmh === undefined ? {} : { speedKmh: r.speedKmh }),
        };
        out.push({ type: 'sighting', record: sighting });
        if (random() < 0.03) out.push({ type: 'sighting', record: { ...sighting } });
      });
    }
    for (const sw of sewers) {
      out.push({
        type: 'reading',
        record: {
          v: 1,
          kind: 'sewer',
          deviceId: sw.id,
          district: sw.district,
          seq: next(sw.id),
          ts,
          values: { levelCm: 10 + random() * 50, overflow: random() < 0.1 },
        },
      });
    }
  }
  return out;
}

/** Stable 32-bit hash of a string (FNV-1a), salted, for a partitioner like Kafka's key hash. */
export function keyHash(key: string, salt: number): number {
  let h = (0x811c9dc5 ^ salt) >>> 0;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}
