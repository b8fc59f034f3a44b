// P9 attack 1 in `pnpm demo` (issue 11, finding 1 as it was found: "in pnpm demo,
// dimming_pct_max=42 at a lamppost means one phone"). Two demo processes side by side, the
// simulator off: one with the shipped policy's classes, one with the policy as it was before
// P9 (the positive control), both in compressed time (5 s windows; nightPolicy). The same quiet
// Hong Kong night is published to both through their MQTT brokers as the lampposts
// (publishNight), and the attacker reads each demo's public open data (/v1/aggregates): for every
// lamppost-window whose pedestrian count was not published, was anyone there? The figure is the
// distinguishing advantage (test/support/presence-attack.ts). Threshold (docs/privacy.md, P9):
// |advantage| ≤ 0.2 as shipped (one run; 1.000 before P9); the control must exceed 0.9.
import { readFileSync } from 'node:fs';
import { DEFAULT_FLEET_PATH, loadFleet } from '@lethe/schemas';
import { createFleetPublisher, type FleetPublisher } from '@lethe/simulator';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { startDemo, type DemoProcess } from '../support/demo-process.ts';
import { dimmingAttack, expectNoPresenceAdvantage, nightPolicy, publishNight, type PublishedFigure } from '../support/presence-attack.ts';

const S = 1000;
const WINDOW_MS = 5 * S;
const NIGHT_WINDOWS = 10;
const TAIL_WINDOWS = 2;
const lampposts = loadFleet(DEFAULT_FLEET_PATH).devices.filter((d) => d.kind === 'lamppost');
const districtOf = new Map(lampposts.map((d) => [d.id, d.district]));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every row of an open-data query, page after page, as published figures. */
async function openData(demo: DemoProcess, query: string): Promise<PublishedFigure[]> {
  type Page = { data: Array<{ time: string; measurement: string; field: string; value: number; tags: Record<string, string> }>; page: { next: string | null } };
  const figures: PublishedFigure[] = [];
  for (let next: string | null = `/v1/aggregates?${query}&limit=1000`; next;) {
    const res = await fetch(`${demo.httpUrl}${next}`);
    if (!res.ok) throw new Error(`GET ${next}: ${res.status} ${await res.text()}`);
    const page = (await res.json()) as Page;
    for (const row of page.data)
      figures.push({ measurement: row.measurement, tags: row.tags, windowStart: Date.parse(row.time), fields: { [row.field]: row.value } });
    next = page.page.next;
  }
  return figures;
}

describe('P9 attack 1 in pnpm demo: presence at a suppressed lamppost from the open data', () => {
  const worlds: Array<{ name: string; demo: DemoProcess; publisher: FleetPublisher }> = [];

  beforeAll(async () => {
    const policies = { shipped: nightPolicy(WINDOW_MS), 'as before P9': nightPolicy(WINDOW_MS, { asBeforeP9: true }) };
    for (const [name, policy] of Object.entries(policies)) {
      const demo = await startDemo({ RATE: '0', STATUS_SECONDS: '0', POLICY_FILE: policy, WINDOW_GRACE_SECONDS: '2' });
      worlds.push({
        name,
        demo,
        publisher: createFleetPublisher({
          url: demo.mqttUrl,
          fleetSecret: readFileSync(demo.fleetSecretFile, 'utf8').trim(),
          clientIdPrefix: `p9-night-demo-${worlds.length}`,
        }),
      });
    }
  }, 120_000);

  afterAll(async () => {
    for (const w of worlds) {
      await w.publisher.close();
      await w.demo.stop();
    }
  });

  it('gives no advantage as shipped, and the old policy all of it (positive control)', async () => {
    const night = await publishNight(
      worlds.map((w) => w.publisher),
      lampposts,
      { windowMs: WINDOW_MS, windows: NIGHT_WINDOWS, tail: TAIL_WINDOWS },
    );
    const range = `start=${new Date(night.t0).toISOString()}&stop=${new Date(night.t1).toISOString()}`;
    const lastWindow = night.t1 - WINDOW_MS;
    const results = new Map<string, ReturnType<typeof dimmingAttack>>();
    for (const w of worlds) {
      let figures: PublishedFigure[] = [];
      for (const deadline = Date.now() + 60 * S; ; await sleep(1000)) {
        figures = [
          ...(await openData(w.demo, `measurement=lamppost&field=dimming_pct_mean&${range}`)),
          ...(await openData(w.demo, `measurement=pedestrians&scope=cell&${range}`)),
        ];
        if (figures.some((f) => f.measurement === 'lamppost' && f.windowStart === lastWindow)) break;
        if (Date.now() > deadline) throw new Error(`${w.name}: the night's last window was not published within 60 s\n${w.demo.stderr().slice(-2000)}`);
      }
      results.set(w.name, dimmingAttack(figures, night.phones, districtOf));
    }
    expectNoPresenceAdvantage('in pnpm demo', NIGHT_WINDOWS, results.get('shipped')!, results.get('as before P9')!);
  }, 300_000);
});
