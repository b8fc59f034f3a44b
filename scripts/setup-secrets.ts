// Generates every secret the stack needs, once, into a directory (default ./secrets, which
// git ignores): there are no default passwords anywhere. Re-running keeps existing secrets
// and only fills in missing ones, so it is safe to run before every `docker compose up`.
//
//   node scripts/setup-secrets.ts [--dir secrets]
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { devicePassword, generateSecret, mosquittoPasswordLine } from '@lethe/config';
import { DEFAULT_FLEET_PATH, loadFleet } from '@lethe/schemas';

const { values } = parseArgs({ options: { dir: { type: 'string', default: process.env.LETHE_SECRETS_DIR ?? 'secrets' }, fleet: { type: 'string' } } });
const dir = resolve(values.dir!);
mkdirSync(dir, { recursive: true, mode: 0o700 });

function secret(name: string, make: () => string = generateSecret): string {
  const path = join(dir, name);
  if (!existsSync(path)) {
    // 0644 inside a 0700 directory: compose mounts single files into containers whose users
    // (grafana 472, node 1000) are not the host user; the directory keeps other host users out.
    writeFileSync(path, make(), { mode: 0o644 });
    console.log(`generated ${name}`);
  }
  return readFileSync(path, 'utf8').trim();
}

const fleetSecret = secret('fleet-secret');
const gatewayPassword = secret('mqtt-gateway-password');
secret('influxdb-admin-password');
secret('influxdb-admin-token');
secret('grafana-admin-password');
secret('grafana-secret-key');
// The differential-privacy noise key: hex, because the processor reads raw key bytes.
secret('processor-noise-key', () => randomBytes(32).toString('hex'));

// The password file is rewritten every time (it is derived; fresh salts are harmless).
const fleet = loadFleet(values.fleet ?? DEFAULT_FLEET_PATH);
const lines = [
  mosquittoPasswordLine('lethe-gateway', gatewayPassword),
  ...fleet.devices.map((d) => mosquittoPasswordLine(d.id, devicePassword(fleetSecret, d.id))),
];
writeFileSync(join(dir, 'mosquitto-passwd'), lines.join('\n') + '\n', { mode: 0o600 });
// Mosquitto in its container runs as uid 1883 and must be able to read it.
chmodSync(join(dir, 'mosquitto-passwd'), 0o644);
console.log(`wrote mosquitto-passwd for ${fleet.devices.length} devices and the gateway into ${dir}`);
