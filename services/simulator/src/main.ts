#!/usr/bin/env node
// lethe-simulate: publishes a simulated city's readings through MQTT, as the devices.
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { DEFAULT_FLEET_PATH, loadFleet } from '@lethe/schemas';
import { createCity } from './city.ts';
import { createFleetPublisher } from './publisher.ts';
import { runSimulation } from './run.ts';
import { loadScenario, loadScenarios } from './scenarios.ts';

const HELP = `Usage: lethe-simulate [options]

Publishes one reading per device per tick through MQTT, authenticated as each device.

Options:
  --url <url>          MQTT broker (env MQTT_URL, default mqtt://127.0.0.1:1883)
  --scenario <name>    normal-day | rush-hour | storm-overflow | festival-crowd (default normal-day)
  --seed <text>        seed for reproducible readings (default lethe)
  --rate <n>           readings per second for the whole fleet (default: fleet size / 5)
  --ticks <n>          stop after n ticks (default: run until Ctrl-C)
  --fleet <file>       fleet file (default seeds/fleet.json)
  --list               list scenarios and exit
  -h, --help           this help

The fleet secret, from which each device's MQTT password is derived, comes from
FLEET_SECRET or FLEET_SECRET_FILE (written by \`pnpm run secrets\` into secrets/fleet-secret).

Examples:
  FLEET_SECRET_FILE=secrets/fleet-secret lethe-simulate --scenario rush-hour
  lethe-simulate --url mqtt://127.0.0.1:11883 --rate 200 --ticks 60 --seed demo
`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      url: { type: 'string', default: process.env.MQTT_URL ?? 'mqtt://127.0.0.1:1883' },
      scenario: { type: 'string', default: process.env.SCENARIO ?? 'normal-day' },
      seed: { type: 'string', default: process.env.SEED ?? 'lethe' },
      rate: { type: 'string', default: process.env.RATE },
      ticks: { type: 'string', default: process.env.TICKS },
      fleet: { type: 'string', default: process.env.FLEET_FILE ?? DEFAULT_FLEET_PATH },
      list: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return void process.stdout.write(HELP);
  if (values.list) {
    for (const [name, s] of Object.entries(loadScenarios())) console.log(`${name.padEnd(16)} ${s.description}`);
    return;
  }
  // As the services (@lethe/config): a value and a file of it at once is a mistake, not a choice.
  if (process.env.FLEET_SECRET && process.env.FLEET_SECRET_FILE) throw new Error('Set FLEET_SECRET or FLEET_SECRET_FILE, not both.');
  const fleetSecret = process.env.FLEET_SECRET || (process.env.FLEET_SECRET_FILE ? readFileSync(process.env.FLEET_SECRET_FILE, 'utf8').trim() : undefined);
  if (!fleetSecret) throw new Error('Set FLEET_SECRET or FLEET_SECRET_FILE (run `pnpm run secrets` to generate secrets/fleet-secret).');
  const fleet = loadFleet(values.fleet!);
  const rate = values.rate === undefined ? fleet.devices.length / 5 : Number(values.rate);
  if (!(rate > 0)) throw new Error(`--rate must be a positive number, got "${values.rate}"`);
  const ticks = values.ticks === undefined ? undefined : Number(values.ticks);
  if (ticks !== undefined && !(Number.isInteger(ticks) && ticks > 0)) throw new Error(`--ticks must be a positive integer, got "${values.ticks}"`);
  const tickSeconds = fleet.devices.length / rate;

  const scenario = loadScenario(values.scenario!);
  const city = createCity({ devices: fleet.devices, scenario, seed: values.seed!, tickSeconds });
  const publisher = createFleetPublisher({ url: values.url!, fleetSecret });
  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort());
  process.once('SIGTERM', () => abort.abort());
  console.log(
    `simulating ${fleet.devices.length} devices, scenario ${values.scenario}, ${rate.toFixed(1)} readings/s (a reading per device every ${tickSeconds.toFixed(2)} s) → ${values.url}`,
  );
  const summary = await runSimulation({
    city,
    publisher,
    tickSeconds,
    ...(ticks !== undefined ? { ticks } : {}),
    signal: abort.signal,
    onProgress: (p) =>
      console.log(
        `${p.elapsedSeconds.toFixed(0)} s: ${p.ticks} ticks, ${p.published} readings acknowledged (${(p.published / Math.max(p.elapsedSeconds, 0.001)).toFixed(0)}/s), ${p.failed} failed`,
      ),
  });
  await publisher.close();
  if (summary.failed > 0) process.exitCode = 2;
}

main().catch((err: unknown) => {
  console.error(`lethe-simulate: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
