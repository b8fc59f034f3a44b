// The compose stack's one-shot `secrets` job, so that `docker compose up` alone is enough on a
// fresh clone: no Node on the host, no step before it.
//
//   node scripts/compose-secrets.ts --held /held --into /volumes     # as docker-compose.yml runs it
//
// 1. The secrets live in ./secrets, bind-mounted at --held: scripts/setup-secrets.ts keeps what is
//    there (from `pnpm run secrets`, or from an earlier start) and generates what is missing. The
//    files it generates are given to the directory's owner, so the user who cloned Lethe can read
//    them (the fleet secret for `lethe publish`, Grafana's admin password) without root.
// 2. Each service gets only the files it uses, in a volume of its own (`secrets-<service>`, at
//    --into/<service> here) that it mounts read-only at /run/secrets: owned by the user the service
//    runs as, mode 0400, and nothing else in it. The writer's and the api's InfluxDB tokens are
//    not here: InfluxDB makes them, influx-init writes each into its own volume.
//
// Compose's own file secrets cannot do this: their files must exist before `docker compose up`
// creates the containers (so before any job could generate them), and they keep the host's
// owner and mode (Compose applies uid and mode only under Swarm).
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

/** The user each service's image runs as (docs/compose-stand-ins.md: the upstream images'). */
const UID = { root: 0, node: 1000, mosquitto: 1883, influxdb: 1000, grafana: 472 } as const;

export interface ServiceSecrets {
  /** Who reads the files: the service's user. */
  uid: number;
  /** Files it needs; the job fails when one is missing. */
  files: readonly string[];
  /** Files it takes when they are there (the opt-in MQTT TLS certificates, docker-compose.mqtt-tls.yml). */
  optional?: readonly string[];
}

/** Per compose service, the files of ./secrets it reads at /run/secrets, and nothing more. */
export const COMPOSE_SECRETS: Readonly<Record<string, ServiceSecrets>> = {
  // Root copies the password file to a tmpfs of its own user (docker-compose.yml); the broker's
  // user reads the TLS certificates.
  mosquitto: {
    uid: UID.mosquitto,
    files: ['mosquitto-passwd', 'mqtt-healthcheck-password'],
    optional: ['mqtt-tls-ca.crt', 'mqtt-tls-server.crt', 'mqtt-tls-server.key'],
  },
  // The entrypoint drops to the influxdb user before it reads DOCKER_INFLUXDB_INIT_*_FILE.
  influxdb: { uid: UID.influxdb, files: ['influxdb-admin-password', 'influxdb-admin-token'] },
  'influx-init': { uid: UID.node, files: ['influxdb-admin-token'] },
  keyring: { uid: UID.node, files: ['keyring-gateway-tokens'] },
  gateway: { uid: UID.node, files: ['mqtt-gateway-password', 'keyring-token-gateway'] },
  processor: { uid: UID.node, files: ['processor-noise-key'] },
  api: { uid: UID.node, files: ['api-requester-tokens'] },
  simulator: { uid: UID.node, files: ['fleet-secret'] },
  grafana: { uid: UID.grafana, files: ['grafana-admin-password', 'grafana-secret-key'] },
};

export type Chown = (path: string, uid: number, gid: number) => void;

/**
 * Gives the files of `held` that the job's user (root) made to the directory's owner. Files
 * already there keep their owner.
 */
export function returnToOwner(held: string, chown: Chown = chownSync): string[] {
  const { uid, gid } = statSync(held);
  const given: string[] = [];
  for (const name of readdirSync(held)) {
    const path = join(held, name);
    const s = statSync(path);
    if (s.isFile() && s.uid !== uid) {
      chown(path, uid, gid);
      given.push(name);
    }
  }
  return given;
}

/**
 * Writes each service's files into `into/<service>`, replacing what was there: a file a service
 * no longer uses (or a revoked token) does not stay behind in its volume.
 */
export function distribute(held: string, into: string, table: Readonly<Record<string, ServiceSecrets>> = COMPOSE_SECRETS, chown: Chown = chownSync): string[] {
  const missing = Object.entries(table).flatMap(([service, s]) => s.files.filter((f) => !existsSync(join(held, f))).map((f) => `${service}: ${f}`));
  if (missing.length > 0) throw new Error(`missing in the secrets directory (scripts/setup-secrets.ts makes them): ${missing.join(', ')}`);
  const lines: string[] = [];
  for (const [service, s] of Object.entries(table)) {
    const dir = join(into, service);
    mkdirSync(dir, { recursive: true });
    for (const name of readdirSync(dir)) rmSync(join(dir, name), { recursive: true, force: true });
    const files = [...s.files, ...(s.optional ?? []).filter((f) => existsSync(join(held, f)))];
    for (const f of files) {
      const path = join(dir, f);
      writeFileSync(path, readFileSync(join(held, f)), { mode: 0o400 });
      chown(path, s.uid, s.uid);
    }
    // The volume's root too: the service's user lists it, nobody else does.
    chown(dir, s.uid, s.uid);
    lines.push(`${service}: ${files.join(', ')}`);
  }
  return lines;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { held: { type: 'string', default: '/held' }, into: { type: 'string', default: '/volumes' } } });
  const held = resolve(values.held!);
  const into = resolve(values.into!);
  if (!existsSync(held)) {
    console.error(`${held} does not exist: it is ./secrets of the Lethe folder, bind-mounted (git keeps it; recreate it with \`mkdir secrets\`)`);
    process.exit(2);
  }
  try {
    execFileSync(process.execPath, [new URL('setup-secrets.ts', import.meta.url).pathname, '--dir', held], { stdio: 'inherit' });
    const given = returnToOwner(held);
    if (given.length > 0) console.log(`./secrets: ${given.length} new files, owned by the folder's owner (uid ${statSync(held).uid})`);
    for (const line of distribute(held, into)) console.log(`secrets-${line}`);
  } catch (err) {
    console.error(`secrets: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
}
