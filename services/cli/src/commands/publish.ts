// `lethe publish <device> [field=value …]`: one reading by hand, as the device itself. The
// reading is checked locally against the zod schema of the device's kind (the gateway's own
// check) and against the gateway's time window, so a mistake is explained here and nothing is
// sent; a good reading goes out with QoS 1 under the device's own MQTT user, and the command
// waits for the broker's PUBACK.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { connectAsync, type MqttClient } from 'mqtt';
import { devicePassword } from '@lethe/config';
import { DEFAULT_POLICY_PATH, loadPolicy } from '@lethe/privacy';
import { DEFAULT_FLEET_PATH, loadFleet, READING_SCHEMAS, readingTopic } from '@lethe/schemas';
import { EXIT, UsageError, type Command } from '../command.ts';
import { parseOrUsage, readSecret } from '../options.ts';

const HELP = `Usage: lethe publish <device-id> [field=value ...] [options]

Publishes one reading by hand, as the device itself: its own MQTT user, with the password derived
from the fleet secret, on its own topic lethe/v1/<kind>/<device-id>/reading, QoS 1. The command
waits for the broker's acknowledgement (PUBACK).

The reading is first checked against the schema of the device's kind and the gateway's time
window (not older than the policy's raw-data TTL, nor further ahead than its maxFutureSkew); if it does not fit,
the problems are listed and nothing is sent.

The reading:
  field=value            a field; the value is read as JSON when it parses (42.5, true,
                         '[{"plate":"AB 1234","speedKmh":38}]') and as text otherwise (green)
  --file <path>          a JSON object to start from; --file - reads it from stdin
  deviceId, seq and ts are filled in when missing: seq = seconds since 1970 (so it never
  repeats a sequence number the simulator used), ts = now.

Options:
  --url <url>                 MQTT broker (env MQTT_URL, default mqtt://127.0.0.1:1883)
  --fleet-secret-file <path>  the fleet secret (else env FLEET_SECRET or FLEET_SECRET_FILE)
  --fleet <path>              fleet file (default seeds/fleet.json)
  --timeout <seconds>         wait this long for the broker (default 10)
  --dry-run                   check and show the reading, send nothing
  -h, --help                  show this text

Exit code: 0 acknowledged by the broker; 1 the broker refused it or did not answer;
2 the reading does not fit or the arguments are wrong (nothing was sent).

Examples:
  lethe publish SW-0001 levelCm=42.5 flowLps=160 h2sPpm=1.2 temperatureC=22.4 overflow=false
  lethe publish TL-0003 --file reading.json --url mqtt://127.0.0.1:11883
  echo '{"phase":"green","vehicleCount":12,"occupancyPct":30,"queueLength":3,"meanSpeedKmh":41}' | lethe publish TL-0003 --file -
  FLEET_SECRET_FILE=secrets/fleet-secret pnpm lethe publish LP-0001 --dry-run --file lamppost.json`;

function parseValue(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function readPayloadFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = path === '-' ? readFileSync(0, 'utf8') : readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${path === '-' ? 'stdin' : path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${path === '-' ? 'stdin' : path} is not JSON: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new UsageError(`${path === '-' ? 'stdin' : path} must hold one JSON object (a reading)`);
  return value as Record<string, unknown>;
}

/** A promise that also fails after `ms` (mqtt.js may wait forever for a CONNACK from a peer that closed). */
function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} within ${ms / 1000} s`)), ms)))]).finally(
    () => clearTimeout(timer),
  );
}

/** Resolves on PUBACK; rejects when the broker closes the connection or the time is up. */
function publishAcknowledged(client: MqttClient, topic: string, payload: string, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no acknowledgement within ${timeoutMs / 1000} s`)), timeoutMs);
    const closed = () => reject(new Error('the broker closed the connection before acknowledging (it may not allow this device to publish there)'));
    client.once('close', closed);
    client
      .publishAsync(topic, payload, { qos: 1 })
      .then(
        () => resolve(),
        (err: unknown) => reject(err instanceof Error ? err : new Error(String(err))),
      )
      .finally(() => {
        clearTimeout(timer);
        client.off('close', closed);
      });
  });
}

export const publish: Command = {
  name: ['publish'],
  summary: 'publish one reading by hand, as a device (checked against its schema first)',
  example: 'lethe publish SW-0001 levelCm=42.5 flowLps=160 h2sPpm=1.2 temperatureC=22.4 overflow=false',
  help: HELP,
  async run(args, io) {
    const { values, positionals } = parseOrUsage(() =>
      parseArgs({
        args,
        allowPositionals: true,
        strict: true,
        options: {
          url: { type: 'string' },
          file: { type: 'string' },
          'fleet-secret-file': { type: 'string' },
          fleet: { type: 'string' },
          timeout: { type: 'string', default: '10' },
          'dry-run': { type: 'boolean', default: false },
        },
      }),
    );
    const [deviceId, ...pairs] = positionals;
    if (deviceId === undefined) throw new UsageError('which device? Give its id, like SW-0001 (see seeds/fleet.json)');
    const timeoutS = Number(values.timeout);
    if (!(timeoutS > 0)) throw new UsageError(`--timeout must be a positive number of seconds, not "${values.timeout}"`);
    const url = values.url ?? process.env.MQTT_URL ?? 'mqtt://127.0.0.1:1883';

    const fleetPath = values.fleet ?? DEFAULT_FLEET_PATH;
    let fleet;
    try {
      fleet = loadFleet(fleetPath);
    } catch (err) {
      throw new UsageError(`cannot load the fleet: ${(err as Error).message}`);
    }
    const device = fleet.get(deviceId);
    if (!device) throw new UsageError(`"${deviceId}" is not a device of the fleet (${fleetPath}); ids look like LP-0001, TL-0001, SW-0001`);

    const payload: Record<string, unknown> = values.file === undefined ? {} : readPayloadFile(values.file);
    for (const pair of pairs) {
      const eq = pair.indexOf('=');
      if (eq <= 0) throw new UsageError(`"${pair}" is not field=value`);
      payload[pair.slice(0, eq)] = parseValue(pair.slice(eq + 1));
    }
    payload.deviceId ??= device.id;
    payload.seq ??= Math.floor(Date.now() / 1000);
    payload.ts ??= new Date().toISOString();

    const schema = READING_SCHEMAS[device.kind];
    const parsed = schema.safeParse(payload);
    const problems = parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.') || '(reading)'}: ${i.message}`);
    if (parsed.success) {
      if (payload.deviceId !== device.id) problems.push(`deviceId: is ${String(payload.deviceId)}, but the reading is published as ${device.id}`);
      const ts = Date.parse(String(payload.ts));
      const { ttl, maxFutureSkew } = loadPolicy(DEFAULT_POLICY_PATH).rawData;
      if (ts > Date.now() + maxFutureSkew) problems.push(`ts: is more than ${maxFutureSkew / 1000} s in the future; the gateway would refuse it`);
      if (ts < Date.now() - ttl) problems.push(`ts: is older than the raw-data TTL (${ttl / 60_000} min); the gateway would refuse it`);
    }
    if (problems.length > 0) {
      io.err(`lethe publish: this is not a valid ${device.kind} reading, so nothing was sent:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
      io.err(`Fields of a ${device.kind} reading: ${Object.keys(schema.shape).join(', ')}.`);
      return EXIT.error;
    }
    const known = new Set(Object.keys(schema.shape));
    const unknown = Object.keys(payload).filter((k) => !known.has(k));
    if (unknown.length > 0)
      io.err(
        `note: ${unknown.join(', ')} ${unknown.length === 1 ? 'is' : 'are'} not part of a ${device.kind} reading; the gateway drops ${unknown.length === 1 ? 'it' : 'them'}.`,
      );

    const topic = readingTopic(device.kind, device.id);
    const message = JSON.stringify(payload);
    if (values['dry-run']) {
      io.out(`would publish to ${topic} (QoS 1):\n${message}`);
      return EXIT.ok;
    }
    const fleetSecret = readSecret('FLEET_SECRET', values['fleet-secret-file']);
    if (fleetSecret === undefined) {
      throw new UsageError(
        'the fleet secret is needed to derive the device password: set FLEET_SECRET or FLEET_SECRET_FILE, or give --fleet-secret-file (`pnpm demo` prints its path; `pnpm secrets` writes secrets/fleet-secret)',
      );
    }

    const started = performance.now();
    let client: MqttClient;
    try {
      client = await withTimeout(
        connectAsync(url, {
          clientId: `lethe-publish-${device.id}-${randomBytes(4).toString('hex')}`,
          username: device.id,
          password: devicePassword(fleetSecret, device.id),
          protocolVersion: 4,
          clean: true,
          reconnectPeriod: 0,
          connectTimeout: timeoutS * 1000,
        }),
        timeoutS * 1000,
        'no answer to CONNECT',
      );
    } catch (err) {
      io.err(`lethe publish: cannot connect to ${url} as ${device.id}: ${(err as Error).message}`);
      return EXIT.failed;
    }
    try {
      await publishAcknowledged(client, topic, message, timeoutS * 1000);
    } catch (err) {
      io.err(`lethe publish: ${topic} was not acknowledged: ${(err as Error).message}`);
      return EXIT.failed;
    } finally {
      await client.endAsync().catch(() => undefined);
    }
    io.out(
      `published ${device.id}'s reading (seq ${String(payload.seq)}, ts ${String(payload.ts)}) to ${topic}: acknowledged by the broker in ${Math.round(performance.now() - started)} ms`,
    );
    return EXIT.ok;
  },
};
