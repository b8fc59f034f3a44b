// The simulator's one command line, run by `lethe simulate` (services/cli) and by the simulator
// service (`node services/simulator/src/main.ts`, the compose `simulator`): the simulated city
// against a broker, publishing as the devices, with progress every few seconds. Stops after
// --ticks, on SIGINT/SIGTERM, or when the first readings cannot be published at all (a wrong URL
// or fleet secret). Every option also has an environment variable, for the service.
import { parseArgs } from 'node:util';
import { secretValue } from '@lethe/config';
import { DEFAULT_FLEET_PATH, loadFleet } from '@lethe/schemas';
import { createCity } from './city.ts';
import { createFleetPublisher, type FleetPublisher } from './publisher.ts';
import { runSimulation } from './run.ts';
import { loadScenario, loadScenarios } from './scenarios.ts';

/** With nothing acknowledged after this long, the broker is unreachable or refuses the devices. */
const GIVE_UP_MS = 15_000;

export interface SimulateIo {
  out(line: string): void;
  err(line: string): void;
}

/** Bad arguments or no fleet secret: the caller prints it with a pointer to --help (exit 2). */
export class SimulateUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SimulateUsageError';
  }
}

export function simulateHelp(program: string): string {
  return `Usage: ${program} [options]

Runs the simulated city: every device of the fleet publishes one reading per tick through MQTT,
authenticated as itself (password derived from the fleet secret), QoS 1. Progress is printed
every 5 seconds; Ctrl-C stops it.

Options:
  --url <url>[,<url>…]        MQTT broker (env MQTT_URL; default mqtt://127.0.0.1:1883); several for a
                              sharded city: each device publishes to the broker its id hashes to
  --scenario <name>           normal-day | rush-hour | storm-overflow | festival-crowd (env SCENARIO; default normal-day)
  --seed <text>               seed for reproducible readings (env SEED; default lethe)
  --rate <n>                  readings per second for the whole fleet (env RATE; default: fleet size / 5,
                              i.e. every device every 5 s)
  --ticks <n>                 stop after n ticks (env TICKS; default: run until Ctrl-C)
  --fleet-secret-file <path>  the fleet secret (env FLEET_SECRET or FLEET_SECRET_FILE; \`pnpm run secrets\`
                              writes secrets/fleet-secret)
  --fleet <path>              fleet file (env FLEET_FILE; default seeds/fleet.json)
  --list                      list the scenarios and exit
  -h, --help                  show this text

Exit code: 0 every reading acknowledged; 1 some were not (or none could be published);
2 bad arguments or no fleet secret.

Examples:
  FLEET_SECRET_FILE=secrets/fleet-secret ${program} --url mqtt://127.0.0.1:11883 --scenario rush-hour
  ${program} --rate 200 --ticks 60 --seed demo --fleet-secret-file /tmp/lethe-demo-XXXX/fleet-secret
  ${program} --list`;
}

const usage = <T>(what: () => T): T => {
  try {
    return what();
  } catch (err) {
    throw new SimulateUsageError((err as Error).message);
  }
};

/**
 * Runs the command line `args` (without the program's name); returns the exit code. The devices'
 * MQTT client ids get `clientIdPrefix`, so the simulator service and a `lethe simulate` against the
 * same broker do not take each other's connections.
 */
export async function simulateCommand(
  args: string[],
  io: SimulateIo,
  env: NodeJS.ProcessEnv = process.env,
  clientIdPrefix = 'lethe-simulate',
): Promise<number> {
  const { values } = usage(() =>
    parseArgs({
      args,
      allowPositionals: false,
      strict: true,
      options: {
        url: { type: 'string', default: env.MQTT_URL || 'mqtt://127.0.0.1:1883' },
        scenario: { type: 'string', default: env.SCENARIO || 'normal-day' },
        seed: { type: 'string', default: env.SEED || 'lethe' },
        rate: { type: 'string', default: env.RATE || undefined },
        ticks: { type: 'string', default: env.TICKS || undefined },
        'fleet-secret-file': { type: 'string' },
        fleet: { type: 'string', default: env.FLEET_FILE || DEFAULT_FLEET_PATH },
        list: { type: 'boolean', default: false },
      },
    }),
  );
  if (values.list) {
    for (const [name, s] of Object.entries(loadScenarios())) io.out(`${name.padEnd(16)} ${s.description}`);
    return 0;
  }
  const scenario = usage(() => loadScenario(values.scenario));
  const fleet = usage(() => {
    try {
      return loadFleet(values.fleet);
    } catch (err) {
      throw new Error(`cannot load the fleet: ${(err as Error).message}`);
    }
  });
  const rate = values.rate === undefined ? fleet.devices.length / 5 : Number(values.rate);
  if (!(rate > 0)) throw new SimulateUsageError(`--rate must be a positive number, not "${values.rate}"`);
  const ticks = values.ticks === undefined ? undefined : Number(values.ticks);
  if (ticks !== undefined && !(Number.isInteger(ticks) && ticks > 0))
    throw new SimulateUsageError(`--ticks must be a positive whole number, not "${values.ticks}"`);
  const fleetSecret = usage(() => secretValue('FLEET_SECRET', values['fleet-secret-file'], env));
  if (fleetSecret === undefined)
    throw new SimulateUsageError(
      "the fleet secret is needed to derive the devices' passwords: set FLEET_SECRET or FLEET_SECRET_FILE, or give --fleet-secret-file (`pnpm run secrets` writes secrets/fleet-secret)",
    );
  const url = values.url
    .split(',')
    .map((u) => u.trim())
    .filter(Boolean);
  if (url.length === 0) throw new SimulateUsageError('--url must name at least one MQTT broker');
  const tickSeconds = fleet.devices.length / rate;

  // The publisher, watched: the first error is kept to explain a run where nothing gets through.
  const inner = createFleetPublisher({ url, fleetSecret, clientIdPrefix });
  let acknowledged = 0;
  let firstError: string | undefined;
  const publisher: FleetPublisher = {
    publish: (deviceId, topic, payload) =>
      inner.publish(deviceId, topic, payload).then(
        () => void acknowledged++,
        (err: unknown) => {
          firstError ??= err instanceof Error ? err.message : String(err);
          throw err;
        },
      ),
    close: () => inner.close(),
  };

  const abort = new AbortController();
  const stop = () => abort.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const watchdog = setTimeout(() => {
    if (acknowledged === 0) abort.abort(new Error('nothing acknowledged'));
  }, GIVE_UP_MS);

  io.out(
    `simulating ${fleet.devices.length} devices, scenario ${values.scenario}, ${rate.toFixed(1)} readings/s (each device every ${tickSeconds.toFixed(2)} s)${ticks ? `, ${ticks} ticks` : ''} → ${url.join(', ')}`,
  );
  const summary = await runSimulation({
    city: createCity({ devices: fleet.devices, scenario, seed: values.seed, tickSeconds }),
    publisher,
    tickSeconds,
    ...(ticks !== undefined ? { ticks } : {}),
    signal: abort.signal,
    onProgress: (p) => {
      const progress = ticks ? `tick ${p.ticks}/${ticks} (${Math.round((100 * p.ticks) / ticks)} %)` : `${p.ticks} ticks`;
      io.out(
        `[${p.elapsedSeconds.toFixed(0)} s] ${progress}: ${p.published} readings acknowledged (${(p.published / Math.max(p.elapsedSeconds, 0.001)).toFixed(0)}/s), ${p.failed} failed`,
      );
    },
  });
  clearTimeout(watchdog);
  process.off('SIGINT', stop);
  process.off('SIGTERM', stop);
  await publisher.close();
  if (summary.published === 0 && summary.failed > 0) {
    io.err(`no reading was acknowledged by ${url.join(', ')}: ${firstError ?? 'unknown error'}`);
    return 1;
  }
  if (summary.failed > 0) {
    io.err(`${summary.failed} readings were not acknowledged (first error: ${firstError ?? 'unknown'})`);
    return 1;
  }
  return 0;
}
