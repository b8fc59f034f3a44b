// P9 attack 1 on the real services (issue 11, finding 1): presence at a suppressed lamppost read
// from a field that moves with presence, in the open data as InfluxDB holds it. A quiet Hong
// Kong night (03:00, a fifth of the usual pedestrians) from the simulated city is published
// through Mosquitto as the real lampposts, in compressed time (a simulated minute is a 5 s
// window, as in the other tests on real servers; a 5 s tick is 417 ms), through the real
// gateway, processor and writer. The attacker reads InfluxDB and, for every lamppost-window whose pedestrian count was not published, guesses
// from the lamp's dimming whether anyone was there (test/support/presence-attack.ts; the truth
// is the phones the test published). The same night runs twice: through the shipped policy,
// and, as the positive control, through the policy as it was before P9 (every presence-dependent
// field environmental, published exactly per lamp).
// Threshold (docs/privacy.md, P9): |advantage| ≤ 0.2 as shipped (one run; 1.000 before P9); the control must exceed 0.9.
import { randomBytes } from 'node:crypto';
import { InfluxDB } from '@influxdata/influxdb-client';
import { DEFAULT_FLEET_PATH, loadFleet } from '@lethe/schemas';
import { createFleetPublisher } from '@lethe/simulator';
import { afterAll, describe, inject, it } from 'vitest';
import { dimmingAttack, expectNoPresenceAdvantage, nightPolicy, publishNight, type PublishedFigure } from '../support/presence-attack.ts';
import type { RunningService } from '../support/services.ts';
import { startPipeline } from '../support/pipeline.ts';

const infra = inject('infra');
const RUN = randomBytes(4).toString('hex');
const S = 1000;
const WINDOW_MS = 5 * S;
/** Windows attacked (as the in-process test's 12 minutes), then two more so the last ones close by event time. */
const NIGHT_WINDOWS = 12;
const TAIL_WINDOWS = 2;

const fleet = loadFleet(DEFAULT_FLEET_PATH);
const lampposts = fleet.devices.filter((d) => d.kind === 'lamppost');
const districtOf = new Map(lampposts.map((d) => [d.id, d.district]));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The open data of [t0, t1) as InfluxDB holds it, one figure per measurement, tags and time. */
async function openData(t0: number, t1: number): Promise<PublishedFigure[]> {
  type Row = { _measurement: string; _field: string; _time: string; _value: number; [tag: string]: string | number };
  const rows = await new InfluxDB({ url: infra.influx.url, token: infra.influx.readerToken })
    .getQueryApi(infra.influx.org)
    .collectRows<Row>(
      `from(bucket: "${infra.influx.bucket}") |> range(start: ${new Date(t0).toISOString()}, stop: ${new Date(t1).toISOString()}) |> filter(fn: (r) => r._measurement == "lamppost" or r._measurement == "pedestrians" or r._measurement == "privacy")`,
    );
  const figures = new Map<string, PublishedFigure>();
  for (const r of rows) {
    const tags = Object.fromEntries(
      Object.entries(r)
        .filter(([k]) => !k.startsWith('_') && k !== 'result' && k !== 'table')
        .map(([k, v]) => [k, String(v)]),
    );
    const key = `${r._measurement}|${JSON.stringify(tags)}|${r._time}`;
    const figure = figures.get(key) ?? { measurement: r._measurement, tags, windowStart: Date.parse(r._time), fields: {} };
    figure.fields[r._field] = r._value;
    figures.set(key, figure);
  }
  return [...figures.values()];
}

describe('P9 attack 1 on the real gateway, processor and writer', () => {
  const publisher = createFleetPublisher({ url: infra.mqttUrl, fleetSecret: infra.fleetSecret, clientIdPrefix: `p9-night-${RUN}` });
  let services: RunningService[] = [];
  const stopServices = async () => {
    for (const s of services.reverse()) await s.stop();
    services = [];
  };

  afterAll(async () => {
    await stopServices();
    await publisher.close();
  });

  /** Runs the night through the services under a policy; returns the attack's figure on the open data. */
  async function night(name: string, policyFile: string) {
    services.push(
      ...(await startPipeline({ infra, policyFile, groupPrefix: `p9-night-${name}-${RUN}`, processor: { WINDOW_MAX_WAIT_SECONDS: '3' } })).services,
    );
    // The releaser releases every window in order, empty or not (P9), from where the durable
    // ledger ends: after a pause it first catches up (about 7 windows a second here).
    const released = (figures: PublishedFigure[], stream: string, at: (start: number) => boolean) =>
      figures.some((f) => f.measurement === 'privacy' && f.tags.stream === stream && at(f.windowStart));
    const catchUp = Date.now() + 600 * S;
    while (!released(await openData(Date.now() - 60 * S, Date.now()), 'pedestrians', (start) => start >= Date.now() - 20 * S)) {
      if (Date.now() > catchUp)
        throw new Error(
          `the releaser did not catch up with the clock within 600 s:\n${services.map((s) => `--- ${s.name}\n${s.output().slice(-1500)}`).join('\n')}`,
        );
      await sleep(1000);
    }
    const { t0, t1, phones, published } = await publishNight([publisher], lampposts, { windowMs: WINDOW_MS, windows: NIGHT_WINDOWS, tail: TAIL_WINDOWS });

    // Every lamppost-window of the night released.
    const lastWindow = t1 - WINDOW_MS;
    const deadline = Date.now() + 120 * S;
    let figures: PublishedFigure[] = [];
    for (;;) {
      figures = await openData(t0, t1);
      // The lamps' district dimming (a stream of its own as shipped, an environmental figure before P9) and the pedestrians.
      const dimming = figures.some(
        (f) => f.measurement === 'lamppost' && f.tags.scope === 'district' && f.windowStart === lastWindow && f.fields.dimming_pct_mean !== undefined,
      );
      if (dimming && released(figures, 'pedestrians', (start) => start === lastWindow)) break;
      if (Date.now() > deadline)
        throw new Error(
          `${name}: the night's last window (${new Date(lastWindow).toISOString()}) was not released within 120 s:\n${services.map((s) => `--- ${s.name}\n${s.output().slice(-1500)}`).join('\n')}`,
        );
      await sleep(1000);
    }
    await stopServices();
    return { ...dimmingAttack(figures, phones, districtOf), published };
  }

  it('gives no presence advantage at a suppressed lamppost in the open data (positive control: the policy as it was)', async () => {
    const shipped = await night('shipped', nightPolicy(WINDOW_MS));
    const before = await night('as-before', nightPolicy(WINDOW_MS, { asBeforeP9: true }));
    expectNoPresenceAdvantage('on real servers', NIGHT_WINDOWS, shipped, before);
  }, 600_000);
});
