// The simulated city (src/city.ts): deterministic for a seed, one valid reading per device per
// tick on its own topic, daily patterns, the scenarios of seeds/scenarios.yaml, and personal data
// in the formats the gateway expects. Pure: no broker, no clock (every tick gets a fixed date).
import {
  DEFAULT_FLEET_PATH,
  LamppostReadingSchema,
  loadFleet,
  MAC_PATTERN,
  parseReadingTopic,
  PLATE_PATTERN,
  READING_SCHEMAS,
  SewerReadingSchema,
  TrafficLightReadingSchema,
  type Device,
} from '@lethe/schemas';
import { describe, expect, it } from 'vitest';
import { createCity, hongKongHour, profiles, type SimulatedReading } from '../src/city.ts';
import { loadScenario, type Scenario } from '../src/scenarios.ts';

const fleet = loadFleet(DEFAULT_FLEET_PATH);
const TICK_SECONDS = 5;
/** A time on 2 June 2025 given as Hong Kong local time (UTC+8); Date.UTC rolls a negative hour back a day. */
const hk = (hour: number, minute = 0) => Date.UTC(2025, 5, 2, hour - 8, minute, 0);

/** The readings of `ticks` ticks, TICK_SECONDS apart from `start`. */
function run(options: { scenario: Scenario | string; seed?: string; start: number; ticks: number; devices?: readonly Device[]; travelTimeScale?: number }) {
  const scenario = typeof options.scenario === 'string' ? loadScenario(options.scenario) : options.scenario;
  const city = createCity({
    devices: options.devices ?? fleet.devices,
    scenario,
    seed: options.seed ?? 'city-test',
    tickSeconds: TICK_SECONDS,
    ...(options.travelTimeScale === undefined ? {} : { travelTimeScale: options.travelTimeScale }),
  });
  return Array.from({ length: options.ticks }, (_, i) => city.tick(new Date(options.start + i * TICK_SECONDS * 1000)));
}

// Parsing with the gateway's schemas both checks the payloads and types them.
const lampposts = (tick: SimulatedReading[]) => tick.filter((r) => r.kind === 'lamppost').map((r) => LamppostReadingSchema.parse(r.payload));
const trafficLights = (tick: SimulatedReading[]) => tick.filter((r) => r.kind === 'traffic-light').map((r) => TrafficLightReadingSchema.parse(r.payload));
const sewers = (tick: SimulatedReading[]) => tick.filter((r) => r.kind === 'sewer').map((r) => SewerReadingSchema.parse(r.payload));
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const mean = (xs: number[]) => sum(xs) / xs.length;

describe('the daily profiles', () => {
  it('take the hour of day in Hong Kong (UTC+8, no daylight saving)', () => {
    expect(hongKongHour(new Date(Date.UTC(2025, 5, 2, 0, 0)))).toBe(8);
    expect(hongKongHour(new Date(Date.UTC(2025, 5, 1, 19, 45)))).toBe(3.75);
    expect(hongKongHour(new Date(Date.UTC(2025, 5, 2, 16, 30)))).toBe(0.5);
    // December: still +8 (no summer time either way).
    expect(hongKongHour(new Date(Date.UTC(2025, 11, 24, 12, 0)))).toBe(20);
  });

  it('peak at the rush hours and the evening stroll, and give daylight between 06:30 and 19:00', () => {
    expect(profiles.traffic(8)).toBe(1);
    expect(profiles.traffic(18)).toBe(1);
    expect(profiles.traffic(3)).toBeCloseTo(0.1248, 3);
    expect(profiles.pedestrians(3)).toBeCloseTo(0.0507, 3);
    expect(profiles.pedestrians(19.5)).toBeGreaterThan(0.95);
    expect(profiles.daylight(3)).toBe(0);
    expect(profiles.daylight(6.5)).toBe(0);
    expect(profiles.daylight(12.75)).toBeCloseTo(1, 10);
    expect(profiles.daylight(20)).toBe(0);
  });
});

describe('the simulated city', () => {
  it('is deterministic: the same seed and tick times give the same readings, in separate cities', () => {
    const start = hk(8);
    const a = run({ scenario: 'normal-day', seed: 'same', start, ticks: 4, travelTimeScale: 0.01 });
    const b = run({ scenario: 'normal-day', seed: 'same', start, ticks: 4, travelTimeScale: 0.01 });
    expect(b).toEqual(a);
    // Not trivially: there is personal data in it to get right.
    expect(sum(a.flat().map((r) => ('wifiProbes' in r.payload ? (r.payload.wifiProbes?.length ?? 0) : 0)))).toBeGreaterThan(100);
    expect(sum(a.flat().map((r) => ('plateReads' in r.payload ? (r.payload.plateReads?.length ?? 0) : 0)))).toBeGreaterThan(100);
  });

  it('gives other readings for another seed, and for the same seed at another time', () => {
    const start = hk(8);
    const [a] = run({ scenario: 'normal-day', seed: 'one', start, ticks: 1 });
    const [b] = run({ scenario: 'normal-day', seed: 'two', start, ticks: 1 });
    const [later] = run({ scenario: 'normal-day', seed: 'one', start: hk(20), ticks: 1 });
    expect(b).not.toEqual(a);
    expect(later).not.toEqual(a);
    // Another seed is another population: hardly a MAC in common.
    const macs = (tick: SimulatedReading[] | undefined) => new Set(lampposts(tick!).flatMap((l) => l.wifiProbes.map((p) => p.mac)));
    const other = macs(b);
    expect([...macs(a)].filter((m) => other.has(m)).length).toBeLessThan(5);
  });

  it('gives one reading per device per tick, on its own topic, with its kind, sequence number and time', () => {
    const start = hk(10);
    const ticks = run({ scenario: 'normal-day', start, ticks: 3 });
    expect(fleet.devices).toHaveLength(108);
    ticks.forEach((tick, i) => {
      expect(tick).toHaveLength(fleet.devices.length);
      expect(tick.map((r) => r.deviceId)).toEqual(fleet.devices.map((d) => d.id));
      for (const [j, reading] of tick.entries()) {
        const device = fleet.devices[j]!;
        expect(reading.kind).toBe(device.kind);
        expect(reading.topic).toBe(`lethe/v1/${device.kind}/${device.id}/reading`);
        expect(parseReadingTopic(reading.topic)).toEqual({ kind: device.kind, deviceId: device.id });
        expect(reading.payload).toMatchObject({ deviceId: device.id, seq: i, ts: new Date(start + i * TICK_SECONDS * 1000).toISOString() });
      }
    });
    expect(ticks[0]!.filter((r) => r.kind === 'lamppost')).toHaveLength(54);
    expect(ticks[0]!.filter((r) => r.kind === 'traffic-light')).toHaveLength(36);
    expect(ticks[0]!.filter((r) => r.kind === 'sewer')).toHaveLength(18);
  });

  it("publishes, in every scenario, only payloads the gateway's schema for the kind accepts as they go over the wire", () => {
    let checked = 0;
    for (const [name, start] of [
      ['normal-day', hk(3)],
      ['normal-day', hk(8)],
      ['rush-hour', hk(12)],
      ['storm-overflow', hk(13)],
      ['festival-crowd', hk(1)],
    ] as const) {
      for (const tick of run({ scenario: name, seed: `wire-${name}`, start, ticks: 8 })) {
        for (const reading of tick) {
          const wire: unknown = JSON.parse(JSON.stringify(reading.payload));
          const parsed = READING_SCHEMAS[reading.kind].safeParse(wire);
          expect(parsed.error?.issues ?? [], `${name} ${reading.deviceId}`).toEqual([]);
          // No field the schema does not know (unknown keys would be stripped by the gateway).
          expect(Object.keys(wire as object).sort()).toEqual(Object.keys(parsed.data!).sort());
          checked++;
        }
      }
    }
    expect(checked).toBe(5 * 8 * 108);
  });

  it('keeps values in plausible ranges (and presence-dependent ones within the ranges the policy states)', () => {
    const outside: string[] = [];
    let values = 0;
    const within = (what: string, value: number | undefined, lo: number, hi: number) => {
      values++;
      if (value === undefined || !(value >= lo && value <= hi)) outside.push(`${what} = ${value}, not in [${lo}, ${hi}]`);
    };
    for (const name of ['normal-day', 'rush-hour', 'storm-overflow', 'festival-crowd']) {
      for (const start of [hk(3), hk(8), hk(13), hk(20)]) {
        for (const tick of run({ scenario: name, seed: `range-${name}`, start, ticks: 6 })) {
          for (const l of lampposts(tick)) {
            const at = `${name} ${l.ts} ${l.deviceId}`;
            within(`${at} pm25`, l.pm25, 0, 120);
            within(`${at} pm10`, l.pm10, 0, 180);
            within(`${at} no2`, l.no2, 0, 250);
            within(`${at} noiseDba`, l.noiseDba, 30, 120);
            within(`${at} lux`, l.lux, 0, 62_000);
            within(`${at} temperatureC`, l.temperatureC, 15, 35);
            within(`${at} humidityPct`, l.humidityPct, 0, 100);
            within(`${at} dimmingPct`, l.dimmingPct, 0, 100);
            within(`${at} energyWh`, l.energyWh, 0, 2);
            for (const probe of l.wifiProbes) within(`${at} rssi`, probe.rssi, -95, -40);
          }
          for (const t of trafficLights(tick)) {
            const at = `${name} ${t.ts} ${t.deviceId}`;
            within(`${at} queueLength`, t.queueLength, 0, 200);
            within(`${at} occupancyPct`, t.occupancyPct, 0, 100);
            // No vehicle, no speed; a speed is at least that of a jam.
            if (t.vehicleCount === 0) within(`${at} meanSpeedKmh without vehicles`, t.meanSpeedKmh, 0, 0);
            else within(`${at} meanSpeedKmh`, t.meanSpeedKmh, 5, 80);
            // The ANPR camera reads about 60 % of the vehicles the loop counts, never more.
            within(`${at} plate reads`, t.plateReads.length, 0, 0.6 * t.vehicleCount + 1e-9);
            for (const p of t.plateReads) {
              within(`${at} speedKmh`, p.speedKmh, 0, 120);
              if (!new RegExp(`^cam/${t.deviceId}/\\d+\\.jpg$`).test(p.imageRef ?? '')) outside.push(`${at} imageRef ${p.imageRef}`);
            }
          }
          for (const s of sewers(tick)) {
            const at = `${name} ${s.ts} ${s.deviceId}`;
            within(`${at} levelCm`, s.levelCm, 0, 215);
            within(`${at} flowLps`, s.flowLps, 1, 1000);
            within(`${at} h2sPpm`, s.h2sPpm, 0, 5);
            within(`${at} temperatureC`, s.temperatureC, 19, 25);
          }
        }
      }
    }
    expect(outside).toEqual([]);
    expect(values).toBeGreaterThan(4 * 4 * 6 * 108 * 4);
  });

  it('sends phone MACs as randomized (locally administered, unicast) upper-case MACs, one probe per phone', () => {
    const probes = run({ scenario: 'normal-day', start: hk(19), ticks: 6 }).flatMap((tick) => lampposts(tick));
    const macs = probes.flatMap((l) => l.wifiProbes.map((p) => p.mac));
    expect(macs.length).toBeGreaterThan(500);
    for (const l of probes) expect(new Set(l.wifiProbes.map((p) => p.mac)).size).toBe(l.wifiProbes.length);
    for (const mac of macs) {
      expect(mac).toMatch(MAC_PATTERN);
      expect(mac).toMatch(/^([0-9A-F]{2}:){5}[0-9A-F]{2}$/);
      expect(Number.parseInt(mac.slice(0, 2), 16) & 0b11).toBe(0b10);
    }
    // Some phones ask for their home network by name: the quasi-identifier the gateway drops.
    const ssids = probes.flatMap((l) => l.wifiProbes.flatMap((p) => p.ssids ?? []));
    expect(ssids.length).toBeGreaterThan(0);
    for (const ssid of ssids) expect(ssid).toMatch(/^HomeWiFi-[1-9]\d?$/);
  });

  it('sends licence plates as the cameras read them: two letters (no I, O or Q), a space and 1 to 9999', () => {
    const plates = run({ scenario: 'rush-hour', start: hk(8), ticks: 6 }).flatMap((tick) =>
      trafficLights(tick).flatMap((t) => t.plateReads.map((p) => p.plate)),
    );
    expect(plates.length).toBeGreaterThan(500);
    for (const plate of plates) {
      expect(plate).toMatch(PLATE_PATTERN);
      expect(plate).toMatch(/^[A-HJ-NPR-Z]{2} [1-9]\d{0,3}$/);
    }
  });

  it('lets phones linger near a lamppost: a MAC heard at a lamppost is often heard there again at the next tick', () => {
    const ticks = run({ scenario: 'normal-day', start: hk(19), ticks: 4 });
    const [first, second] = ticks.slice(2).map((tick) => lampposts(tick));
    let again = 0;
    let heard = 0;
    first!.forEach((l, i) => {
      const next = new Set(second![i]!.wifiProbes.map((p) => p.mac));
      heard += l.wifiProbes.length;
      again += l.wifiProbes.filter((p) => next.has(p.mac)).length;
    });
    // Each phone stays 1 to 6 ticks: about 5/6 of them are still there a tick later.
    expect(heard).toBeGreaterThan(200);
    expect(again / heard).toBeGreaterThan(0.6);
    expect(again / heard).toBeLessThan(1);
  });

  it('lets cars drive on: with short travel times, plates read at one junction are read at another a tick later', () => {
    const junctions = fleet.devices.filter((d) => d.kind === 'traffic-light');
    /** Reads of a plate at a junction where it was not read a tick before, but another junction was. */
    const movedOn = (travelTimeScale: number) => {
      const ticks = run({ scenario: 'normal-day', start: hk(8), ticks: 6, devices: junctions, travelTimeScale }).map((tick) => trafficLights(tick));
      let moved = 0;
      for (let i = 1; i < ticks.length; i++) {
        const before = new Map<string, Set<string>>();
        for (const t of ticks[i - 1]!) for (const p of t.plateReads) before.set(p.plate, (before.get(p.plate) ?? new Set()).add(t.deviceId));
        for (const t of ticks[i]!) for (const p of t.plateReads) if (before.has(p.plate) && !before.get(p.plate)!.has(t.deviceId)) moved++;
      }
      return moved;
    };
    // Real travel times take a minute or more: in 30 s few cars arrive (a few plates recur by chance).
    const slow = movedOn(1);
    const fast = movedOn(0.001);
    expect(fast).toBeGreaterThan(300);
    expect(fast).toBeGreaterThan(5 * slow);
  });

  it('dims the lamps at night with the phones near them: 40 % plus 2 % per phone up to 100 %, and not at all in daylight', () => {
    let night = 0;
    for (const [name, start] of [
      ['normal-day', hk(3)],
      ['normal-day', hk(22)],
      ['festival-crowd', hk(12)], // pinned to 20:00
    ] as const) {
      for (const tick of run({ scenario: name, start, ticks: 6 })) {
        for (const l of lampposts(tick)) {
          expect(l.dimmingPct).toBe(Math.min(100, 40 + 2 * l.wifiProbes.length));
          // The lamp's light on top of a dark street: 15 lx plus 0.2 lx per % (0.4 lx per phone), with sensor noise.
          expect(Math.abs(l.lux - (15 + l.dimmingPct / 5))).toBeLessThan(10);
          night++;
        }
      }
    }
    expect(night).toBe(3 * 6 * 54);
    // An 80 W lamp over a 5 s tick: energy follows the dimming level.
    const [festival] = run({ scenario: 'festival-crowd', start: hk(12), ticks: 6 })
      .slice(-1)
      .map(lampposts);
    const full = festival!.filter((l) => l.dimmingPct === 100);
    expect(full.length).toBeGreaterThan(0);
    expect(full.length).toBeLessThan(festival!.length);
    for (const l of full) expect(l.energyWh).toBe(0.111);
    for (const l of festival!) expect(l.energyWh).toBeCloseTo((l.dimmingPct / 100) * 80 * (5 / 3600), 3);

    for (const start of [hk(8), hk(12), hk(17)]) {
      for (const tick of run({ scenario: 'normal-day', start, ticks: 3 })) {
        for (const l of lampposts(tick)) {
          expect(l.dimmingPct).toBe(0);
          expect(l.energyWh).toBe(0);
        }
      }
    }
    const [noon] = run({ scenario: 'normal-day', start: hk(12, 45), ticks: 1 });
    for (const l of lampposts(noon!)) {
      expect(l.lux).toBeGreaterThan(59_000);
      expect(l.lux).toBeLessThan(61_000);
    }
  });

  it('switches the lamps on in the dawn twilight already (daylight at most 0.2), by the same rule', () => {
    expect(profiles.daylight(7)).toBeGreaterThan(0);
    expect(profiles.daylight(7)).toBeLessThan(0.2);
    const [tick] = run({ scenario: 'normal-day', start: hk(7), ticks: 1 });
    for (const l of lampposts(tick!)) expect(l.dimmingPct).toBe(Math.min(100, 40 + 2 * l.wifiProbes.length));
  });

  it('has more traffic in the rush hour than at 03:00, and slower', () => {
    const totals = (start: number) => {
      const lights = run({ scenario: 'normal-day', start, ticks: 6 }).flatMap((tick) => trafficLights(tick));
      return {
        vehicles: sum(lights.map((t) => t.vehicleCount)),
        plates: sum(lights.map((t) => t.plateReads.length)),
        queue: sum(lights.map((t) => t.queueLength)),
        speed: mean(lights.filter((t) => t.vehicleCount > 0).map((t) => t.meanSpeedKmh)),
      };
    };
    const rush = totals(hk(8));
    const night = totals(hk(3));
    // Expected: 12 × traffic × 36 junctions × 6 ticks, traffic 1 at 08:00 and 0.125 at 03:00.
    expect(rush.vehicles).toBeGreaterThan(2000);
    expect(night.vehicles).toBeLessThan(900);
    expect(rush.vehicles).toBeGreaterThan(4 * night.vehicles);
    expect(rush.plates).toBeGreaterThan(4 * night.plates);
    expect(rush.queue).toBeGreaterThan(4 * night.queue);
    expect(rush.speed).toBeLessThan(35);
    expect(night.speed).toBeGreaterThan(45);
  });

  it('follows a scenario: rush-hour pins 08:00 whatever the clock and has more traffic and NO2 than a normal 08:00', () => {
    const rushAtNight = run({ scenario: 'rush-hour', start: hk(3), ticks: 6 });
    const normal = run({ scenario: 'normal-day', start: hk(8), ticks: 6 });
    // 08:00 is daylight: no lamp is on although the clock says 03:00.
    for (const tick of rushAtNight) for (const l of lampposts(tick)) expect(l.dimmingPct).toBe(0);
    const vehicles = (ticks: SimulatedReading[][]) => sum(ticks.flatMap((tick) => trafficLights(tick).map((t) => t.vehicleCount)));
    const no2 = (ticks: SimulatedReading[][]) => mean(ticks.flatMap((tick) => lampposts(tick).map((l) => l.no2)));
    expect(vehicles(rushAtNight)).toBeGreaterThan(1.4 * vehicles(normal));
    expect(no2(rushAtNight)).toBeGreaterThan(no2(normal) + 25);
  });

  it('fills the sewers in a storm over a few readings, until they overflow; on a normal day they stay low', () => {
    const storm = run({ scenario: 'storm-overflow', start: hk(14), ticks: 12 }).map((tick) => sewers(tick));
    const normal = run({ scenario: 'normal-day', start: hk(14), ticks: 12 }).map((tick) => sewers(tick));
    const levels = storm.map((tick) => mean(tick.map((s) => s.levelCm)));
    // From 25 cm towards 25 + 2.2 × 80 mm/h = 201 cm, 30 % of the way per reading.
    expect(levels[0]).toBeGreaterThan(70);
    expect(levels[0]).toBeLessThan(85);
    for (let i = 1; i < levels.length; i++) expect(levels[i]).toBeGreaterThan(levels[i - 1]!);
    expect(storm[0]!.some((s) => s.overflow)).toBe(false);
    for (const s of storm.at(-1)!) {
      expect(s.levelCm).toBeGreaterThan(190);
      expect(s.overflow).toBe(true);
      expect(s.h2sPpm).toBeLessThan(2);
    }
    for (const s of normal.flat()) {
      expect(s.levelCm).toBeLessThan(40);
      expect(s.overflow).toBe(false);
    }
    // Rain darkens, cools and empties the streets.
    const stormLamps = run({ scenario: 'storm-overflow', start: hk(12, 45), ticks: 6 }).map((tick) => lampposts(tick));
    const normalLamps = run({ scenario: 'normal-day', start: hk(12, 45), ticks: 6 }).map((tick) => lampposts(tick));
    expect(mean(stormLamps[0]!.map((l) => l.lux))).toBeLessThan(13_000);
    expect(mean(stormLamps[0]!.map((l) => l.temperatureC))).toBeLessThan(mean(normalLamps[0]!.map((l) => l.temperatureC)) - 3);
    const probes = (ticks: ReturnType<typeof lampposts>[]) => sum(ticks.flat().map((l) => l.wifiProbes.length));
    expect(probes(stormLamps)).toBeLessThan(0.5 * probes(normalLamps));
  });

  it('crowds only the districts a scenario names: the festival in Wan Chai and Yau Tsim Mong', () => {
    const festival = ['wan-chai', 'yau-tsim-mong'];
    const inFestival = new Set(fleet.devices.filter((d) => festival.includes(d.district)).map((d) => d.id));
    expect(inFestival.size).toBeGreaterThan(0);
    const lamps = run({ scenario: 'festival-crowd', start: hk(9), ticks: 8 })
      .at(-1)!
      .filter((r) => r.kind === 'lamppost')
      .map((r) => LamppostReadingSchema.parse(r.payload));
    const crowd = (inside: boolean) => mean(lamps.filter((l) => inFestival.has(l.deviceId) === inside).map((l) => l.wifiProbes.length));
    const noise = (inside: boolean) => mean(lamps.filter((l) => inFestival.has(l.deviceId) === inside).map((l) => l.noiseDba));
    expect(crowd(true)).toBeGreaterThan(2.5 * crowd(false));
    expect(noise(true)).toBeGreaterThan(noise(false) + 15);
  });
});
