// The compose stack's network-level least privilege and its opt-in TLS listener, checked
// without Docker: the writer can reach InfluxDB only through the write-only proxy, and
// docker-compose.mqtt-tls.yml, resolved by the real Docker Compose (infra/local/install-compose.sh)
// on top of docker-compose.yml, gives Mosquitto the TLS config and the generated certificates.
// The proxy's rules and the TLS listener themselves run against real servers in
// test/integration/security-influxdb.test.ts and security-mosquitto.test.ts.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { COMPOSE_SECRETS } from '../../scripts/compose-secrets.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');

interface Service {
  environment?: Record<string, string>;
  networks?: string[] | Record<string, unknown>;
  volumes?: Array<string | { source?: string; target: string }>;
  depends_on?: Record<string, { condition: string }>;
  secrets?: Array<string | { source: string; target?: string }>;
  ports?: Array<string | { host_ip?: string; target: number; published?: string }>;
}
/** A service as `docker compose config` prints it (long syntax everywhere). */
interface Resolved {
  volumes: Array<{ source: string; target: string }>;
  secrets: Array<{ source: string; target: string }>;
  ports: Array<{ host_ip?: string; target: number; published?: string }>;
}
const compose = parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, Service>; networks?: Record<string, { internal?: boolean }> };
const networksOf = (s: Service): string[] => (s.networks === undefined ? ['default'] : Array.isArray(s.networks) ? s.networks : Object.keys(s.networks));

/** Directives of a Mosquitto config: non-comment lines, trimmed. */
const directives = (text: string) =>
  text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));

describe('the InfluxDB writer behind its proxy (docker-compose.yml)', () => {
  it('puts InfluxDB on an internal network that the writer is not on', () => {
    expect(compose.networks?.influxdb?.internal).toBe(true);
    expect(networksOf(compose.services.influxdb!)).toEqual(['influxdb']);
    const direct = Object.entries(compose.services)
      .filter(([, s]) => networksOf(s).includes('influxdb'))
      .map(([name]) => name)
      .sort();
    expect(direct).toEqual(['api', 'grafana', 'influx-init', 'influxdb', 'influxdb-writer-proxy']);
    expect(networksOf(compose.services.writer!)).not.toContain('influxdb');
  });

  it('points the writer at the proxy, which runs infra/influxdb-writer-proxy/default.conf in front of influxdb:8086', () => {
    const writer = compose.services.writer!;
    expect(writer.environment!.INFLUX_URL).toBe('http://influxdb-writer-proxy:8086');
    expect(writer.depends_on!['influxdb-writer-proxy']).toEqual({ condition: 'service_healthy' });
    const proxy = compose.services['influxdb-writer-proxy']!;
    expect(proxy.volumes).toContain('./infra/influxdb-writer-proxy/default.conf:/etc/nginx/conf.d/default.conf:ro');
    const conf = read('infra/influxdb-writer-proxy/default.conf');
    expect(conf).toMatch(/^\s*listen 8086;$/m);
    expect(conf).toContain('set $influxdb http://influxdb:8086;');
    // Exactly two locations pass anything on; every other path gets the catch-all 403.
    expect([...conf.matchAll(/location (=?\s*\S+) \{/g)].map((m) => m[1])).toEqual(['= /api/v2/write', '= /ping', '/']);
    expect([...conf.matchAll(/proxy_pass (\S+);/g)].map((m) => m[1])).toEqual(['$influxdb', '$influxdb']);
    expect(conf).toMatch(/location = \/api\/v2\/write \{\s*limit_except POST \{ deny all; \}/);
  });
});

describe('MQTT over TLS (docker-compose.mqtt-tls.yml, opt-in)', () => {
  let work: string | undefined;
  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('runs mosquitto.conf plus one TLS 1.2+ listener with the certificates it mounts', () => {
    const plain = directives(read('infra/mosquitto/mosquitto.conf'));
    const tls = directives(read('infra/mosquitto/mosquitto-tls.conf'));
    expect(tls.slice(0, plain.length)).toEqual(plain);
    const extra = Object.fromEntries(tls.slice(plain.length).map((l) => [l.split(' ')[0]!, l.slice(l.indexOf(' ') + 1)]));
    expect(extra).toEqual({
      listener: '8883 0.0.0.0',
      cafile: '/run/secrets/mqtt-tls-ca.crt',
      certfile: '/run/secrets/mqtt-tls-server.crt',
      keyfile: '/run/secrets/mqtt-tls-server.key',
      tls_version: 'tlsv1.2',
      require_certificate: 'false',
    });
  });

  it('resolves with the real docker compose on top of docker-compose.yml without changing anything else', () => {
    const check = spawnSync('bash', [join(ROOT, 'infra/local/install-compose.sh'), '--check'], { encoding: 'utf8' });
    const bin = check.stdout.trim().split('\n').pop() ?? '';
    if (check.status !== 0 || !bin)
      throw new Error(`The real Docker Compose is not installed; build it with: bash infra/local/install-compose.sh\n${check.stderr}`);
    work = mkdtempSync(join(tmpdir(), 'lethe-compose-tls-'));
    const project = join(work, 'project');
    mkdirSync(project);
    for (const entry of readdirSync(ROOT))
      if (!['.git', '.env', 'secrets', 'node_modules'].includes(entry) && !entry.startsWith('.local')) symlinkSync(join(ROOT, entry), join(project, entry));
    const secrets = spawnSync(process.execPath, [join(ROOT, 'scripts/setup-secrets.ts'), '--dir', join(project, 'secrets'), '--mqtt-tls'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    expect(secrets.status, secrets.stderr).toBe(0);
    const resolve = (...files: string[]) => {
      const r = spawnSync(bin, ['--project-directory', project, ...files.flatMap((f) => ['-f', join(project, f)]), 'config', '--format', 'json'], {
        encoding: 'utf8',
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          HOME: work!,
          DOCKER_CONFIG: join(work!, 'docker'),
          DOCKER_HOST: `unix://${join(work!, 'none.sock')}`,
        },
      });
      expect(r.status, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as { services: Record<string, Resolved>; secrets?: Record<string, { file: string }> };
    };
    const base = resolve('docker-compose.yml');
    const withTls = resolve('docker-compose.yml', 'docker-compose.mqtt-tls.yml');
    const mosquitto = withTls.services.mosquitto!;
    expect(mosquitto.volumes.find((v) => v.target === '/mosquitto/config/mosquitto.conf')?.source).toBe(join(project, 'infra/mosquitto/mosquitto-tls.conf'));
    expect(mosquitto.volumes.map((v) => v.target).sort()).toEqual(base.services.mosquitto!.volumes.map((v) => v.target).sort());
    // The certificates reach /run/secrets through Mosquitto's secrets volume, which the job fills
    // from ./secrets whenever they are there: the overlay mounts nothing of its own.
    expect(COMPOSE_SECRETS.mosquitto!.optional).toEqual(['mqtt-tls-ca.crt', 'mqtt-tls-server.crt', 'mqtt-tls-server.key']);
    for (const name of COMPOSE_SECRETS.mosquitto!.optional!) expect(existsSync(join(project, 'secrets', name)), name).toBe(true);
    expect(mosquitto.volumes).toContainEqual(expect.objectContaining({ type: 'volume', source: 'secrets-mosquitto', target: '/run/secrets', read_only: true }));
    expect(withTls.secrets).toBeUndefined();
    // The plain port of docker-compose.yml stays; the overlay adds the TLS one.
    expect(mosquitto.ports).toEqual([...base.services.mosquitto!.ports!, expect.objectContaining({ host_ip: '127.0.0.1', target: 8883 })]);
    const { mosquitto: _m, ...others } = withTls.services;
    const { mosquitto: _b, ...baseOthers } = base.services;
    expect(others).toEqual(baseOthers);
  });
});
