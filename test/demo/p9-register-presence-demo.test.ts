// P9 in `pnpm demo` (issue 11, finding 3 as it was found): two demo processes side by side, the
// simulator off, each sent the same background readings of a traffic light and a lamppost every
// second through its own MQTT broker, nobody about; in one of them one reading carries one
// plate, published by hand as the finding did. Both run on the same clock, so their schedules
// coincide; every public output of their apis other than the noised aggregates is fetched at
// the same instants and compared as in test/privacy/p9-register-presence.test.ts
// (test/support/public-outputs.ts). The figure is the number of differing fields; threshold 0.
import { readFileSync } from 'node:fs';
import { createFleetPublisher, type FleetPublisher } from '@lethe/simulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemo, type DemoProcess } from '../support/demo-process.ts';
import { publishBackground, relative, reportDifferences, snapshot, type Snapshot } from '../support/public-outputs.ts';

const S = 1000;
/** The demo policy's window: snapshots fall between its boundaries. */
const WINDOW_MS = 10 * S;
const WATCH_MS = 70 * S;
const CAR_AT = 12.3 * S;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface World {
  demo: DemoProcess;
  publisher: FleetPublisher;
  car: boolean;
}

describe('P9 in pnpm demo: the register does not tell one car published by hand from none', () => {
  const worlds: World[] = [];
  let stop = false;
  let background: Promise<void> | undefined;
  let carSent = 0;

  async function backgroundReadings(carAt: number): Promise<void> {
    let seq = 1;
    while (!stop) {
      const ts = new Date().toISOString();
      const carNow = Date.now() >= carAt && carSent === 0;
      await Promise.all(
        worlds.map(async (w) => {
          await publishBackground(w.publisher, seq, ts, w.car && carNow ? [{ plate: 'KX 9137', speedKmh: 32 }] : []);
        }),
      );
      if (carNow) carSent++;
      seq++;
      await sleep(1000 - (Date.now() % 1000) + 100);
    }
  }

  beforeAll(async () => {
    const demos = await Promise.all([0, 1].map(() => startDemo({ RATE: '0', STATUS_SECONDS: '0' })));
    demos.forEach((demo, i) =>
      worlds.push({
        demo,
        car: i === 1,
        publisher: createFleetPublisher({ url: demo.mqttUrl, fleetSecret: readFileSync(demo.fleetSecretFile, 'utf8').trim(), clientIdPrefix: `p9-demo-${i}` }),
      }),
    );
  });

  afterAll(async () => {
    stop = true;
    await background?.catch(() => undefined);
    for (const w of worlds) {
      await w.publisher.close();
      await w.demo.stop();
    }
  });

  it('gives the same public outputs, field for field, with one car as with none', async () => {
    const t0 = Math.ceil((Date.now() + 5 * S) / WINDOW_MS) * WINDOW_MS;
    background = backgroundReadings(t0 + CAR_AT);
    const taken: [Snapshot[], Snapshot[]] = [[], []];
    for (let offset = WINDOW_MS / 4; offset < WATCH_MS; offset += WINDOW_MS / 2) {
      await sleep(Math.max(0, t0 + offset - Date.now()));
      const [none, one] = await Promise.all(worlds.map((w) => snapshot(w.demo.httpUrl, t0, offset)));
      taken[0].push(none!);
      taken[1].push(one!);
    }
    expect(carSent).toBe(1);
    expect(taken[1].at(-1)!.fields.size).toBeGreaterThan(100);
    expect(reportDifferences('P9 register presence in pnpm demo', relative(taken[0]), relative(taken[1]))).toEqual([]);
  }, 180_000);
});
