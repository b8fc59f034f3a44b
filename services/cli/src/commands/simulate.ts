// `lethe simulate`: runs the simulated city (@lethe/simulator) against a broker, publishing
// as the devices, and reports progress every few seconds. Stops after --ticks, on Ctrl-C, or
// when the first readings cannot be published at all (a wrong URL or fleet secret).
import { parseArgs } from 'node:util';
import { DEFAULT_FLEET_PATH, loadFleet } from '@lethe/schemas';
import { createCity, createFleetPublisher, loadScenario, loadScenarios, runSimulation, type FleetPublisher } from '@lethe/simulator';
import { EXIT, UsageError, type Command } from '../command.ts';
import { parseOrUsage, readSecret } from '../options.ts';

/** With nothing acknowledged after this long, the broker is unreachable or refuses the devices. */
const GIVE_UP_MS = 15_000;

const HELP = `Usage: lethe simulate [options]

Runs the simulated city: every device of the fleet publishes one reading per tick through MQTT,
authenticated as itself (password derived from the fleet secret), QoS 1. Progress is printed
every 5 seconds; Ctrl-C stops it.

Options:
  --url <url>                 MQTT broker (env MQTT_URL, default mqtt://127.0.0.1:1883)
  --scenario <name>           normal-day | rush-hour | storm-overflow | festival-crowd (default normal-day)
  --seed <text>               seed for reproducible readings (default lethe)
  --rate <n>                  readings per second for the whole fleet (default: fleet size / 5,
                              i.e. every device every 5 s)
  --ticks <n>                 stop after n ticks (default: run until Ctrl-C)
  --fleet-secret-file <path>  the fleet secret (else env FLEET_SECRET or FLEET_SECRET_FILE)
  --fleet <path>              fleet file (default seeds/fleet.json)
  --list                      list the scenarios and exit
  -h, --help                  show this text

Exit code: 0 every reading acknowledged; 1 some were not (or none could be published);
2 bad arguments or no fleet secret.

Examples:
  FLEET_SECRET_FILE=secrets/fleet-secret lethe simulate --url mqtt://127.0.0.1:11883 --scenario rush-hour
  lethe simulate --rate 200 --ticks 60 --seed demo --fleet-secret-file /tmp/lethe-demo-XXXX/fleet-secret
  lethe simulate --list`;

export const simulate: Command = {
  name: ['simulate'],
  summary: 'run the simulated city against a broker, with progress',
  example: 'lethe simulate --scenario rush-hour --ticks 60    (FLEET_SECRET_FILE=… and --url as needed)',
  help: HELP,
  async run(args, io) {
    const { values, positionals } = parseOrUsage(() =>
      parseArgs({
        args,
        allowPositionals: false,
        strict: true,
        options: {
          url: { type: 'string' },
          scenario: { type: 'string', default: 'normal-day' },
          seed: { type: 'string', default: 'lethe' },
          rate: { type: 'string' },
          ticks: { type: 'string' },
          'fleet-secret-file': { type: 'string' },
          fleet: { type: 'string', default: DEFAULT_FLEET_PATH },
          list: { type: 'boolean', default: false },
        },
      }),
    );
    void positionals;
    if (values.list) {
      for (const [name, s] of Object.entries(loadScenarios())) io.out(`${name.padEnd(16)} ${s.description}`);
      return EXIT.ok;
    }
    let scenario;
    try {
      scenario = loadScenario(values.scenario);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    let fleet;
    try {
      fleet = loadFleet(values.fleet);
    } catch (err) {
      throw new UsageError(`cannot load the fleet: ${(err as Error).message}`);
    }
    const rate = values.rate === undefined ? fleet.devices.length / 5 : Number(values.rate);
    if (!(rate > 0)) throw new UsageError(`--rate must be a positive number, not "${values.rate}"`);
    const ticks = values.ticks === undefined ? undefined : Number(values.ticks);
    if (ticks !== undefined && !(Number.isInteger(ticks) && ticks > 0)) throw new UsageError(`--ticks must be a positive whole number, not "${values.ticks}"`);
    const fleetSecret = readSecret('FLEET_SECRET', values['fleet-secret-file']);
    if (fleetSecret === undefined)
      throw new UsageError("the fleet secret is needed to derive the devices' passwords: set FLEET_SECRET or FLEET_SECRET_FILE, or give --fleet-secret-file");
    const url = values.url ?? process.env.MQTT_URL ?? 'mqtt://127.0.0.1:1883';
    const tickSeconds = fleet.devices.length / rate;

    // The publisher, watched: the first error is kept to explain a run where nothing gets through.
    const inner = createFleetPublisher({ url, fleetSecret, clientIdPrefix: 'lethe-simulate' });
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
      `simulating ${fleet.devices.length} devices, scenario ${values.scenario}, ${rate.toFixed(1)} readings/s (each device every ${tickSeconds.toFixed(2)} s)${ticks ? `, ${ticks} ticks` : ''} → ${url}`,
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
      io.err(`lethe simulate: no reading was acknowledged by ${url}: ${firstError ?? 'unknown error'}`);
      return EXIT.failed;
    }
    if (summary.failed > 0) {
      io.err(`lethe simulate: ${summary.failed} readings were not acknowledged (first error: ${firstError ?? 'unknown'})`);
      return EXIT.failed;
    }
    return EXIT.ok;
  },
};
