// The simulated city: turns the fleet, a scenario and a seed into one reading per device per
// tick, with daily patterns (rush hours, daylight, crowds) and the personal data real
// devices would see — randomized phone MACs that linger near a lamppost for a while, and
// licence plates of cars that pass several junctions. Deterministic: the same seed and tick
// times give the same readings.
import type { Device, DeviceKind, LamppostReadingInput, SewerReadingInput, TrafficLightReadingInput } from '@lethe/schemas';
import { readingTopic } from '@lethe/schemas';
import { createRandom, type Random } from './random.ts';
import type { Scenario } from './scenarios.ts';

export interface SimulatedReading {
  kind: DeviceKind;
  deviceId: string;
  topic: string;
  payload: LamppostReadingInput | TrafficLightReadingInput | SewerReadingInput;
}

export interface CityOptions {
  devices: readonly Device[];
  scenario: Scenario;
  seed: string;
  /** Seconds between two readings of the same device; scales per-reading counts. */
  tickSeconds: number;
  /** Multiplies simulated travel times between junctions (tests use < 1 to see trips in seconds). */
  travelTimeScale?: number;
}

export interface City {
  tick(now: Date): SimulatedReading[];
}

const bump = (h: number, centre: number, width: number) => Math.exp(-((h - centre) ** 2) / (2 * width ** 2));
export const profiles = {
  traffic: (h: number) => Math.min(1, 0.12 + 0.88 * (bump(h, 8, 1.5) + bump(h, 18, 2) + 0.4 * bump(h, 13, 3))),
  pedestrians: (h: number) => Math.min(1, 0.05 + 0.95 * (0.8 * bump(h, 8.5, 1.5) + 0.6 * bump(h, 13, 2) + bump(h, 19.5, 2.5))),
  daylight: (h: number) => Math.max(0, Math.sin(((h - 6.5) / 12.5) * Math.PI)),
};

/** Hour of day in Hong Kong (UTC+8, no daylight saving). */
export function hongKongHour(now: Date): number {
  return (now.getUTCHours() + 8 + now.getUTCMinutes() / 60) % 24;
}

function randomMac(random: Random): string {
  // Phones randomize their MAC: the "locally administered" bit set, multicast bit clear.
  const bytes = Array.from({ length: 6 }, () => random.int(0, 255));
  bytes[0] = (bytes[0]! | 0x02) & 0xfe;
  return bytes.map((b) => b.toString(16).padStart(2, '0').toUpperCase()).join(':');
}

function randomPlate(random: Random): string {
  const letters = 'ABCDEFGHJKLMNPRSTUVWXYZ';
  return `${letters[random.int(0, letters.length - 1)]}${letters[random.int(0, letters.length - 1)]} ${random.int(1, 9999)}`;
}

const round = (x: number, digits = 1) => Number(x.toFixed(digits));

/** Great-circle distance in km. */
function distanceKm(a: Device, b: Device): number {
  const rad = Math.PI / 180;
  const h = Math.sin(((b.lat - a.lat) * rad) / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(((b.lon - a.lon) * rad) / 2) ** 2;
  return 2 * 6371 * Math.asin(Math.sqrt(h));
}

/** Where a car can drive next from each junction: the other junctions of its district and the two nearest elsewhere. */
function junctionGraph(devices: readonly Device[]): Map<string, Device[]> {
  const junctions = devices.filter((d) => d.kind === 'traffic-light');
  return new Map(
    junctions.map((j) => {
      const others = junctions.filter((o) => o.id !== j.id);
      const local = others.filter((o) => o.district === j.district);
      const nearest = others
        .filter((o) => o.district !== j.district)
        .sort((a, b) => distanceKm(j, a) - distanceKm(j, b))
        .slice(0, 2);
      return [j.id, [...local, ...nearest]];
    }),
  );
}
const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));

export function createCity({ devices, scenario, seed, tickSeconds, travelTimeScale = 1 }: CityOptions): City {
  const random = createRandom(seed);
  const seq = new Map<string, number>();
  const districts = [...new Set(devices.map((d) => d.district))];
  // Each district has its own population of phones and cars; a few cars roam the whole city.
  const phones = new Map(districts.map((d) => [d, Array.from({ length: 400 }, () => randomMac(random))]));
  const cars = new Map(districts.map((d) => [d, Array.from({ length: 150 }, () => randomPlate(random))]));
  const roamingCars = Array.from({ length: 500 }, () => randomPlate(random));
  // Cars drive from junction to junction: a plate read at one is often read again at the
  // next after the driving time, which is what travel-time figures are made of.
  const byId = new Map(devices.map((d) => [d.id, d]));
  const routes = junctionGraph(devices);
  const inTransit = new Map<string, Array<{ plate: string; arriveAt: number }>>();
  /** Phones currently near each lamppost, with the ticks they will stay. */
  const present = new Map<string, Map<string, number>>();
  const sewerLevel = new Map<string, number>();
  const scale = tickSeconds / 5;

  const applies = (device: Device) => !scenario.districts || scenario.districts.includes(device.district);
  const nextSeq = (id: string) => {
    const n = seq.get(id) ?? 0;
    seq.set(id, n + 1);
    return n;
  };

  function lamppost(device: Device, ts: string, hour: number): LamppostReadingInput {
    const mult = applies(device) ? scenario.pedestrians : 1;
    const traffic = profiles.traffic(hour) * (applies(device) ? scenario.traffic : 1);
    let here = present.get(device.id);
    if (!here) present.set(device.id, (here = new Map()));
    for (const [mac, left] of here) {
      if (left <= 1) here.delete(mac);
      else here.set(mac, left - 1);
    }
    const arrivals = random.poisson(4 * profiles.pedestrians(hour) * mult * scale);
    const pool = phones.get(device.district)!;
    for (let i = 0; i < arrivals; i++) here.set(random.pick(pool), random.int(1, 6));
    const daylight = profiles.daylight(hour);
    const crowd = Math.min(1, here.size / 30);
    const dimming = daylight > 0.2 ? 0 : round(clamp(40 + 60 * crowd, 0, 100), 0);
    return {
      deviceId: device.id,
      seq: nextSeq(device.id),
      ts,
      pm25: round(clamp(random.normal(12 + 25 * traffic * scenario.no2, 3), 0, 1000)),
      pm10: round(clamp(random.normal(22 + 35 * traffic * scenario.no2, 5), 0, 2000)),
      no2: round(clamp(random.normal(20 + 60 * traffic * scenario.no2, 6), 0, 2000)),
      noiseDba: round(clamp(random.normal(48 + 18 * traffic + 12 * crowd, 2) * (applies(device) ? scenario.noise : 1), 0, 160)),
      lux: round(clamp(daylight * 60_000 * (scenario.rainMmPerHour > 0 ? 0.2 : 1) + (dimming > 0 ? 15 + dimming / 5 : 0) + random.normal(0, 2), 0, 200_000)),
      temperatureC: round(26 + 4 * daylight - scenario.rainMmPerHour / 20 + random.normal(0, 0.3)),
      humidityPct: round(clamp(70 - 10 * daylight + scenario.rainMmPerHour / 2 + random.normal(0, 2), 0, 100)),
      dimmingPct: dimming,
      // An 80 W LED lamp at its dimming level for one tick.
      energyWh: round(((dimming / 100) * 80 * tickSeconds) / 3600, 3),
      wifiProbes: [...here.keys()].map((mac) => ({
        mac,
        rssi: random.int(-95, -40),
        ...(random.next() < 0.3 ? { ssids: ['HomeWiFi-' + random.int(1, 99)] } : {}),
      })),
    };
  }

  function trafficLight(device: Device, ts: string, nowMs: number, hour: number): TrafficLightReadingInput {
    const traffic = profiles.traffic(hour) * (applies(device) ? scenario.traffic : 1);
    const congestion = clamp(traffic, 0, 1.5);
    const meanSpeed = clamp(55 - 25 * congestion, 5, 80);
    const local = cars.get(device.district)!;
    const waiting = inTransit.get(device.id) ?? [];
    const arrived = waiting.filter((c) => c.arriveAt <= nowMs).map((c) => c.plate);
    inTransit.set(
      device.id,
      waiting.filter((c) => c.arriveAt > nowMs),
    );
    // The ANPR camera reads about 60 % of the vehicles the loop counts.
    const fresh = Math.max(0, Math.round(random.poisson(12 * traffic * scale) * 0.6) - arrived.length);
    const plates = [...arrived, ...Array.from({ length: fresh }, () => (random.next() < 0.8 ? random.pick(local) : random.pick(roamingCars)))];
    const vehicleCount = Math.max(random.poisson(12 * traffic * scale), Math.ceil(plates.length / 0.6));
    const plateReads = plates.map((plate) => ({
      plate,
      speedKmh: round(clamp(random.normal(meanSpeed, 8), 0, 250)),
      imageRef: `cam/${device.id}/${random.int(0, 1e9)}.jpg`,
    }));
    for (const { plate } of plateReads) {
      const next = routes.get(device.id) ?? [];
      if (next.length === 0 || random.next() >= 0.6) continue;
      const to = random.pick(next);
      const seconds = (distanceKm(device, byId.get(to.id)!) / Math.max(5, random.normal(meanSpeed * 0.7, 5))) * 3600 + random.int(10, 60);
      const queue = inTransit.get(to.id) ?? [];
      queue.push({ plate, arriveAt: nowMs + seconds * 1000 * travelTimeScale });
      inTransit.set(to.id, queue);
    }
    return {
      deviceId: device.id,
      seq: nextSeq(device.id),
      ts,
      phase: random.pick(['red', 'amber', 'green', 'green'] as const),
      vehicleCount,
      occupancyPct: round(clamp(random.normal(70 * congestion, 5), 0, 100)),
      queueLength: Math.round(clamp(random.normal(12 * congestion, 2), 0, 1000)),
      meanSpeedKmh: round(vehicleCount > 0 ? meanSpeed + random.normal(0, 2) : 0),
      plateReads,
    };
  }

  function sewer(device: Device, ts: string): SewerReadingInput {
    const rain = applies(device) ? scenario.rainMmPerHour : 0;
    // Levels follow rain with inertia, so a storm fills the sewers over a few readings.
    const target = 25 + rain * 2.2;
    const previous = sewerLevel.get(device.id) ?? 25;
    const level = clamp(previous + (target - previous) * 0.3 + random.normal(0, 1.5), 0, 1000);
    sewerLevel.set(device.id, level);
    return {
      deviceId: device.id,
      seq: nextSeq(device.id),
      ts,
      levelCm: round(level),
      flowLps: round(clamp(40 + level * 3 + random.normal(0, 5), 0, 100_000)),
      h2sPpm: round(clamp(random.normal(rain > 0 ? 0.5 : 2.5, 0.4), 0, 1000), 2),
      temperatureC: round(22 + random.normal(0, 0.5)),
      overflow: level > 150,
    };
  }

  return {
    tick(now) {
      const ts = now.toISOString();
      const hour = scenario.hour ?? hongKongHour(now);
      return devices.map((device) => {
        const payload =
          device.kind === 'lamppost'
            ? lamppost(device, ts, hour)
            : device.kind === 'traffic-light'
              ? trafficLight(device, ts, now.getTime(), hour)
              : sewer(device, ts);
        return { kind: device.kind, deviceId: device.id, topic: readingTopic(device.kind, device.id), payload };
      });
    },
  };
}
