// The pages in a real browser: headless Chromium (Debian's `chromium`, driven by playwright-core)
// against `pnpm demo` as a real process. /register must show every kind of sensor with its TTL,
// k, ε, purposes and legal basis, and live figures; /city must fill its table with district
// figures and keep them up to date. Screenshots go to docs/screenshots/.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { plateMovementsRequest } from '../support/data-requests.ts';
import { eventually, startDemo, type DemoProcess } from '../support/demo-process.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOTS = new URL('../../docs/screenshots/', import.meta.url).pathname;
// Without the background-networking flags Chromium tries to reach Google's services, which a
// closed network refuses; a fresh profile directory keeps every run the same.
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

interface RegisterJson {
  sensors: Array<{
    kind: string;
    title: string;
    purposes: string[];
    legalBasis: string;
    rawDataTtl: { ms: number };
    processing: { k: number; epsilonPerRelease: number };
  }>;
}

let demo: DemoProcess;
let context: BrowserContext;
let page: Page;
let profile: string;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `The browser tests need Chromium at ${CHROMIUM} and it is not there. Install it with: bash infra/local/install-chromium.sh (apt-get install chromium), or set CHROMIUM_PATH.`,
    );
  }
  demo = await startDemo({ SCENARIO: 'rush-hour', STATUS_SECONDS: '0' });
  profile = mkdtempSync(join(tmpdir(), 'lethe-chromium-'));
  context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS, viewport: { width: 1280, height: 900 } });
  page = context.pages()[0] ?? (await context.newPage());
  mkdirSync(SCREENSHOTS, { recursive: true });
  // Live figures need a first release about people (one window plus its grace) and retention
  // checks, both as of the figures' time: a window (10 s) at least 15 s back.
  await eventually(
    async () => {
      const r = (await (await fetch(`${demo.httpUrl}/v1/register`)).json()) as { live: { epsilonToday: unknown[] | null; unavailable: string[] } };
      return r.live.epsilonToday && r.live.epsilonToday.length > 0 && r.live.unavailable.length === 0 ? true : undefined;
    },
    90_000,
    'the first privacy-budget figures',
  );
});

afterAll(async () => {
  await context?.close();
  await demo?.stop();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

describe('pages in headless Chromium', () => {
  it('/register shows every kind of sensor with TTL, k, ε, purposes, legal basis, and live figures', async () => {
    const register = (await (await fetch(`${demo.httpUrl}/v1/register`)).json()) as RegisterJson;
    // A refused request, so the live figures have something to count.
    const token = readFileSync(demo.tokenFile('hk-police-force'), 'utf8').trim();
    const filed = await fetch(`${demo.httpUrl}/v1/data-requests`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: plateMovementsRequest(Date.now() - 3_600_000),
    });
    expect(filed.status).toBe(200);

    const response = await page.goto(`${demo.httpUrl}/register`);
    expect(response?.status()).toBe(200);
    // Live figures are cached for a couple of seconds: reload until the refusal is counted.
    await eventually(
      async () => (Number(await page.locator('#requests-refused').getAttribute('data-count')) >= 1 ? true : void (await page.reload())),
      15_000,
      'the refusal in the live figures',
    );
    await expect(page.title()).resolves.toMatch(/Transparency register/);
    await expect(page.locator('h1').textContent()).resolves.toBe("What the city's sensors know about you");

    expect(register.sensors.map((s) => s.kind)).toEqual(['lamppost', 'traffic-light', 'sewer']);
    for (const s of register.sensors) {
      const section = page.locator(`#sensor-${s.kind}`);
      await expect(section.isVisible()).resolves.toBe(true);
      await expect(section.locator('h3').textContent()).resolves.toBe(s.title);
      await expect(section.locator('[data-ttl-ms]').getAttribute('data-ttl-ms')).resolves.toBe(String(s.rawDataTtl.ms));
      await expect(section.locator('[data-ttl-ms]').textContent()).resolves.toMatch(/^at most 15 minutes/);
      await expect(section.locator('[data-k]').getAttribute('data-k')).resolves.toBe(String(s.processing.k));
      await expect(section.locator('[data-epsilon-per-release]').getAttribute('data-epsilon-per-release')).resolves.toBe(
        String(s.processing.epsilonPerRelease),
      );
      await expect(section.locator('[data-epsilon-per-release]').textContent()).resolves.toMatch(/^1 per published figure, at most \d+ per day$/);
      await expect(section.locator('li[data-purpose]').evaluateAll((items) => items.map((li) => li.getAttribute('data-purpose')))).resolves.toEqual(s.purposes);
      await expect(section.textContent()).resolves.toContain(s.legalBasis);
    }

    const live = page.locator('#live');
    await expect(live.locator('#live-as-of').getAttribute('datetime')).resolves.toMatch(/^\d{4}-\d{2}-\d{2}T\d\d:\d\d:\d0\.000Z$/);
    await expect(live.locator('#live-unavailable').count()).resolves.toBe(0);
    await expect(live.locator('#raw-age tr[data-topic="lethe.sightings.v1"] [data-within-limit]').getAttribute('data-within-limit')).resolves.toBe('true');
    await expect(live.locator('#keys-destroyed').getAttribute('data-count')).resolves.toMatch(/^\d+$/);
    expect(Number(await live.locator('#requests-refused').getAttribute('data-count'))).toBeGreaterThanOrEqual(1);
    await expect(live.locator('#epsilon-today tr[data-stream="pedestrians"] [data-epsilon-spent]').getAttribute('data-epsilon-spent')).resolves.toMatch(
      /^[1-9]\d*$/,
    );

    // From the top through the first sensor: accountability, live figures and one full entry (the
    // whole page is five screens of the same shapes; a smaller picture is kinder to the repository).
    const file = join(SCREENSHOTS, 'register.png');
    const firstSensor = (await page.locator('#sensor-lamppost').boundingBox())!;
    await page.screenshot({ path: file, fullPage: true, clip: { x: 0, y: 0, width: 1280, height: Math.ceil(firstSensor.y + firstSensor.height + 24) } });
    expect(statSync(file).size).toBeGreaterThan(10_000);
  });

  it('/city fills its table with figures for every district and keeps them up to date', async () => {
    const response = await page.goto(`${demo.httpUrl}/city?refresh=5&range=-2m`);
    expect(response?.status()).toBe(200);
    const districts = await page.locator('#city-table tbody tr[data-district]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-district')!));
    expect(districts.length).toBe(18);

    await page.waitForSelector('#city-status[data-state="ok"]', { timeout: 30_000 });
    // Every district has lampposts and a sewer sensor: their environmental figures are never withheld.
    for (const metric of ['pm25', 'sewer-level']) {
      for (const d of districts) {
        const cell = page.locator(`#${metric}-${d}`);
        await expect(cell.getAttribute('data-state')).resolves.toBe('ok');
        expect(Number(await cell.getAttribute('data-value'))).toBeGreaterThan(0);
        await expect(cell.textContent()).resolves.toMatch(/^\d+\.\d$/);
      }
    }
    // People and vehicles are k-anonymous, noised counts: at rush hour most districts have them.
    for (const metric of ['pedestrians', 'vehicles']) {
      const filled = await page.locator(`td[data-metric="${metric}"][data-state="ok"]`).count();
      expect(filled, `${metric} figures shown`).toBeGreaterThan(districts.length / 2);
    }

    // Updates: the page refreshes every 5 s and a new 10 s window brings newer figures.
    const latest = async () =>
      (await page.locator('td[data-metric="sewer-level"][data-time]').evaluateAll((cells) => cells.map((c) => c.getAttribute('data-time')!))).sort().at(-1)!;
    const firstUpdate = await page.locator('#city-updated').getAttribute('datetime');
    const firstWindow = await latest();
    await page.waitForFunction(
      ([before]) => {
        const cells = Array.from(
          (
            globalThis as unknown as { document: { querySelectorAll(s: string): ArrayLike<{ getAttribute(n: string): string | null }> } }
          ).document.querySelectorAll('td[data-metric="sewer-level"][data-time]'),
        );
        return cells.some((c) => (c.getAttribute('data-time') ?? '') > before!);
      },
      [firstWindow],
      { timeout: 45_000, polling: 1000 },
    );
    await expect(page.locator('#city-updated').getAttribute('datetime')).resolves.not.toBe(firstUpdate);
    expect((await latest()) > firstWindow).toBe(true);
    await expect(page.locator('#city-status').getAttribute('data-state')).resolves.toBe('ok');

    const file = join(SCREENSHOTS, 'city.png');
    await page.screenshot({ path: file, fullPage: true });
    expect(statSync(file).size).toBeGreaterThan(10_000);
  });
});
