// Validates docker-compose.yml with the real Compose implementation: the docker compose v2 CLI,
// built from the Go module proxy by infra/local/install-compose.sh. `docker-compose config`
// loads the file, validates it, resolves anchors and merge keys and interpolates variables,
// all without a Docker engine (DOCKER_HOST points at a socket that does not exist, to be sure).
// The run is set up as a user would: secrets from scripts/setup-secrets.ts and .env from
// .env.example, in a temporary project directory that links to the repository, never in it.
// compose.test.ts holds the static checks against the schema; this file cross-checks what the
// real loader makes of the file.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { parseEnv } from 'node:util';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { COMPOSE_SECRETS } from '../../scripts/compose-secrets.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const INSTALL = 'bash infra/local/install-compose.sh';
/** Entries of the repository that the temporary project directory must not link to. */
const NOT_LINKED = new Set(['.git', '.env', 'secrets', 'node_modules', '.local']);

interface Healthcheck {
  test?: string[];
  interval?: string;
  timeout?: string;
  retries?: number;
  start_period?: string;
  disable?: boolean;
}
interface Service {
  image?: string;
  healthcheck?: Healthcheck;
  depends_on?: Record<string, { condition?: string; required?: boolean }>;
  environment?: Record<string, string | null>;
  ports?: Array<{ host_ip?: string; target: number; published?: string }>;
  secrets?: Array<{ source: string; target?: string }>;
  volumes?: Array<{ type: string; source?: string; target: string }>;
  restart?: string;
  logging?: { driver?: string; options?: Record<string, string> };
  mem_limit?: string | number;
}
interface Resolved {
  name: string;
  services: Record<string, Service>;
  secrets?: Record<string, { file?: string }>;
}
interface Variable {
  Name: string;
  DefaultValue: string;
  Required: boolean;
}

/** Path of the cached docker-compose binary; fails (never skips) when it is not installed. */
function composeBinary(): string {
  const result = spawnSync('bash', [join(ROOT, 'infra/local/install-compose.sh'), '--check'], { encoding: 'utf8' });
  const path = result.stdout.trim().split('\n').pop() ?? '';
  if (result.status !== 0 || !path) {
    throw new Error(
      `The real Docker Compose (docker-compose) is not installed, so docker-compose.yml cannot be validated.\n` +
        `Build it once (about 2 minutes, cached afterwards) with:\n\n    ${INSTALL}\n\n${result.stderr.trim()}`,
    );
  }
  return path;
}

let bin: string;
let work: string;
let project: string;
let secretsDir: string;

/** Runs docker-compose on the temporary project with a clean environment; throws on failure. */
function compose(args: string[], envFile?: string): { stdout: string; stderr: string } {
  const files = ['--project-directory', project, '-f', join(project, 'docker-compose.yml')];
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: join(work, 'home'),
    DOCKER_CONFIG: join(work, 'docker-config'),
    DOCKER_HOST: `unix://${join(work, 'no-docker-engine.sock')}`,
  };
  const result = spawnSync(bin, [...files, ...(envFile ? ['--env-file', envFile] : []), ...args], { encoding: 'utf8', env, timeout: 30_000 });
  if (result.status !== 0) {
    throw new Error(
      `docker-compose ${args.join(' ')} failed (exit ${result.status ?? result.signal}):\n${result.stderr}${result.error ? String(result.error) : ''}`,
    );
  }
  return { stdout: result.stdout, stderr: result.stderr };
}

const resolve = (envFile?: string): Resolved => JSON.parse(compose(['config', '--format', 'json'], envFile).stdout) as Resolved;

// The file as written (YAML merge keys applied), to compare with what Compose resolved.
const source = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, Service & { depends_on?: unknown }>;
};
const envExample = parseEnv(readFileSync(join(ROOT, '.env.example'), 'utf8')) as Record<string, string>;

let resolved: Resolved;
let quiet: { stdout: string; stderr: string };
/** Why the set-up failed: every test then fails with it (a failed beforeAll would only skip them). */
let setupError: unknown;

function setUp(): void {
  bin = composeBinary();
  work = mkdtempSync(join(tmpdir(), 'lethe-compose-'));
  project = join(work, 'project');
  mkdirSync(project);
  for (const entry of readdirSync(ROOT)) {
    if (!NOT_LINKED.has(entry)) symlinkSync(join(ROOT, entry), join(project, entry));
  }
  // `cp .env.example .env`, and the secrets as the secrets job makes them on the first `up` (`config` runs no container).
  secretsDir = join(project, 'secrets');
  const secrets = spawnSync(process.execPath, [join(ROOT, 'scripts/setup-secrets.ts'), '--dir', secretsDir], { cwd: ROOT, encoding: 'utf8' });
  if (secrets.status !== 0) throw new Error(`scripts/setup-secrets.ts failed:\n${secrets.stderr}`);
  copyFileSync(join(ROOT, '.env.example'), join(project, '.env'));

  quiet = compose(['config', '--quiet']);
  resolved = resolve();
}

beforeAll(() => {
  try {
    setUp();
  } catch (error) {
    setupError = error;
  }
}, 60_000);

beforeEach(() => {
  if (setupError !== undefined) throw setupError;
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('docker-compose.yml, as the real docker compose resolves it', () => {
  it('passes `docker compose config --quiet` without a Docker engine and without warnings', () => {
    expect(existsSync(join(work, 'no-docker-engine.sock'))).toBe(false);
    expect(quiet.stdout).toBe('');
    expect(quiet.stderr).toBe('');
  });

  it('keeps the project name and every service of the file', () => {
    expect(resolved.name).toBe('lethe');
    expect(Object.keys(resolved.services).sort()).toEqual(Object.keys(source.services).sort());
  });

  it('keeps every healthcheck through merge keys and interpolation', () => {
    for (const [name, service] of Object.entries(resolved.services)) {
      const written = source.services[name]!.healthcheck;
      if (written === undefined) {
        expect(service.restart, `${name} has no healthcheck, so it must be a one-shot job`).toBe('no');
        continue;
      }
      expect(service.healthcheck?.disable, name).not.toBe(true);
      expect(service.healthcheck?.test?.length, `${name}: healthcheck without test`).toBeGreaterThan(0);
      // Compose writes a literal `$` back as `$$`, so the resolved test equals the written one.
      expect(service.healthcheck?.test, name).toEqual(written.test);
      for (const key of ['interval', 'timeout', 'retries', 'start_period'] as const) {
        expect(service.healthcheck?.[key], `${name}.healthcheck.${key}`).toEqual(written[key]);
      }
    }
    // No password on a healthcheck's command line (`ps` shows it): Mosquitto's comes from an options file.
    for (const [name, service] of Object.entries(resolved.services))
      expect(service.healthcheck?.test?.join(' ') ?? '', name).not.toMatch(/-P |password|secrets\//);
    expect(resolved.services.mosquitto!.healthcheck!.test!.join(' ')).toContain('XDG_CONFIG_HOME=/mosquitto/run/healthcheck mosquitto_pub');
  });

  it("rotates every container's logs and limits every container's memory", () => {
    for (const [name, service] of Object.entries(resolved.services)) {
      expect(service.logging, `${name}: logging`).toEqual({ driver: 'json-file', options: { 'max-size': '10m', 'max-file': '3' } });
      // Compose resolves mem_limit to bytes.
      expect(Number(service.mem_limit), `${name}: mem_limit`).toBeGreaterThanOrEqual(64 * 2 ** 20);
      expect(Number(service.mem_limit), `${name}: mem_limit`).toBeLessThanOrEqual(2 * 2 ** 30);
    }
  });

  it('keeps every depends_on condition, as a required dependency', () => {
    let dependencies = 0;
    for (const [name, service] of Object.entries(resolved.services)) {
      const written = (source.services[name]!.depends_on ?? {}) as Record<string, { condition?: string }>;
      expect(Object.keys(service.depends_on ?? {}).sort(), name).toEqual(Object.keys(written).sort());
      for (const [dependency, spec] of Object.entries(service.depends_on ?? {})) {
        dependencies += 1;
        expect(spec.condition, `${name} → ${dependency}`).toBe(written[dependency]!.condition);
        expect(['service_healthy', 'service_completed_successfully'], `${name} → ${dependency}`).toContain(spec.condition);
        expect(spec.required, `${name} → ${dependency}`).toBe(true);
      }
    }
    expect(dependencies).toBeGreaterThan(0);
  });

  it('gives the services exactly the secret files that scripts/setup-secrets.ts generates, each through its own volume', () => {
    expect(resolved.secrets, 'file secrets need their files before `docker compose up`').toBeUndefined();
    const generated = readdirSync(secretsDir).sort();
    for (const f of generated) expect(statSync(join(secretsDir, f)).size, `${f} is empty`).toBeGreaterThan(0);
    const given = new Set(Object.values(COMPOSE_SECRETS).flatMap((s) => s.files));
    expect([...given].sort(), 'generated but given to no service, or given but not generated').toEqual(generated);
    for (const [name, s] of Object.entries(COMPOSE_SECRETS)) {
      const service = resolved.services[name];
      expect(service, `${name} is in scripts/compose-secrets.ts but not in docker-compose.yml`).toBeDefined();
      expect(service!.volumes, name).toContainEqual(
        expect.objectContaining({ type: 'volume', source: `secrets-${name}`, target: '/run/secrets', read_only: true }),
      );
      expect(resolved.services.secrets!.volumes, name).toContainEqual(
        expect.objectContaining({ type: 'volume', source: `secrets-${name}`, target: `/volumes/${name}` }),
      );
      expect(s.files.length, name).toBeGreaterThan(0);
    }
    expect(resolved.services.secrets!.volumes).toContainEqual(expect.objectContaining({ type: 'bind', source: secretsDir, target: '/held' }));
  });

  it('bind-mounts only files and directories that exist (Compose would create a missing one as a directory)', () => {
    let binds = 0;
    for (const [name, service] of Object.entries(resolved.services)) {
      for (const volume of service.volumes ?? []) {
        if (volume.type !== 'bind') continue;
        binds += 1;
        expect(volume.source!.startsWith(project), `${name}: ${volume.source} is outside the project`).toBe(true);
        expect(existsSync(volume.source!), `${name}: ${volume.source} → ${volume.target} does not exist`).toBe(true);
      }
    }
    expect(binds).toBeGreaterThan(0);
  });

  it('takes the simulator settings and the published ports from .env', () => {
    // The process environment has none of these: they come from the project's .env.
    const interpolation = parseEnv(compose(['config', '--environment']).stdout) as Record<string, string>;
    expect(interpolation).toMatchObject(envExample);
    const simulator = resolved.services.simulator!.environment!;
    expect(simulator.SCENARIO).toBe(envExample.SIM_SCENARIO);
    expect(simulator.RATE).toBe(envExample.SIM_RATE);
    expect(simulator.SEED).toBe(envExample.SIM_SEED);
    expect(resolved.services.api!.ports).toEqual([expect.objectContaining({ host_ip: '127.0.0.1', target: 8080, published: envExample.API_PORT })]);
    expect(resolved.services.grafana!.ports).toEqual([expect.objectContaining({ host_ip: '127.0.0.1', target: 3000, published: envExample.GRAFANA_PORT })]);
    expect(resolved.services.mosquitto!.ports).toEqual([expect.objectContaining({ host_ip: '127.0.0.1', target: 1883, published: envExample.MQTT_PORT })]);

    const other = join(work, 'other.env');
    writeFileSync(other, 'SIM_SCENARIO=rush-hour\nSIM_RATE=5\nSIM_SEED=other\nAPI_PORT=18080\nGRAFANA_PORT=13000\n');
    const changed = resolve(other);
    expect(changed.services.simulator!.environment).toMatchObject({ SCENARIO: 'rush-hour', RATE: '5', SEED: 'other' });
    expect(changed.services.api!.ports![0]).toMatchObject({ host_ip: '127.0.0.1', published: '18080' });
    expect(changed.services.grafana!.ports![0]).toMatchObject({ host_ip: '127.0.0.1', published: '13000' });
  });

  it('documents in .env.example every variable the file reads, with the same default, and requires none', () => {
    const variables = JSON.parse(compose(['config', '--variables', '--format', 'json']).stdout) as Record<string, Variable>;
    expect(Object.keys(variables).sort()).toEqual(Object.keys(envExample).sort());
    for (const variable of Object.values(variables)) {
      expect(variable.Required, variable.Name).toBe(false);
      expect(variable.DefaultValue, variable.Name).toBe(envExample[variable.Name]);
    }
  });

  it('uses the pinned images of the file', () => {
    const images = compose(['config', '--images']).stdout.trim().split('\n').sort();
    const written = [...new Set(Object.values(source.services).map((s) => s.image!))].sort();
    expect([...new Set(images)].sort()).toEqual(written);
  });
});
