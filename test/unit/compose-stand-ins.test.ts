// docs/compose-stand-ins.md is the contract of each locally built stand-in for a third-party
// image (infra/docker/build-images.sh): these static checks hold docker-compose.yml to it, so the
// compose file relies on nothing a stand-in does not promise. Every environment variable, mount
// path, tmpfs, secret target, container port, healthcheck program and command flag of a
// third-party service must appear in that image's section, and every image the compose file or
// the Dockerfile names must have a stand-in (or be declared to have none).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { COMPOSE_SECRETS } from '../../scripts/compose-secrets.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');

interface Service {
  image?: string;
  command?: string | string[];
  entrypoint?: string | string[];
  environment?: Record<string, unknown> | string[];
  healthcheck?: { test?: string | string[] };
  ports?: Array<string | { target: number }>;
  volumes?: Array<string | { target?: string }>;
  tmpfs?: string | string[];
}

const compose = parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, Service> };
const doc = read('docs/compose-stand-ins.md');
const LETHE_IMAGE = 'lethe:local';
const nodeImage = /^ARG NODE_IMAGE=(\S+)$/m.exec(read('Dockerfile'))?.[1];

/** The text of the `## \`<image>\`` section of the contract, or undefined. */
function section(image: string): string | undefined {
  const start = doc.indexOf(`\n## \`${image}\`\n`);
  if (start === -1) return undefined;
  const end = doc.indexOf('\n## ', start + 1);
  return doc.slice(start, end === -1 ? undefined : end);
}

/** The programs a shell script runs (the word after `exec`), and the variables it sets for them. */
function shellWords(script: string): string[] {
  return script.split(/&&|\|\||;/).flatMap((command) => {
    const words = command.trim().split(/\s+/);
    const assignments = words.filter((w) => /^[A-Z_]+=/.test(w)).map((w) => w.split('=')[0]!);
    const rest = words.filter((w) => !/^[A-Z_]+=/.test(w));
    return [...assignments, rest[0] === 'exec' ? rest[1]! : rest[0]!].filter(Boolean);
  });
}

/** Everything of a service's interface with its image that the contract must cover. */
function reliedOn(name: string, service: Service): string[] {
  const out: string[] = [];
  const env = service.environment ?? {};
  out.push(...(Array.isArray(env) ? env.map((kv) => kv.split('=')[0]!) : Object.keys(env)));
  for (const v of service.volumes ?? []) out.push(typeof v === 'string' ? v.split(':')[1]! : v.target!);
  // The files the secrets job puts in the service's /run/secrets volume (scripts/compose-secrets.ts).
  for (const f of COMPOSE_SECRETS[name]?.files ?? []) out.push(`/run/secrets/${f}`);
  out.push(...[service.tmpfs ?? []].flat().map((t) => t.split(':')[0]!));
  for (const p of service.ports ?? []) out.push(`\`${typeof p === 'string' ? p.split(':').pop()!.split('/')[0] : p.target}\``);
  const test = service.healthcheck?.test;
  if (Array.isArray(test) && test[0] === 'CMD') out.push(test[1]!);
  if (Array.isArray(test) && test[0] === 'CMD-SHELL') out.push(...shellWords(test[1]!));
  const command = [service.command ?? []].flat();
  if (command[0] === 'sh' && command[1] === '-c') out.push('sh', ...shellWords(command[2]!));
  else for (const arg of command) out.push(arg.startsWith('--') ? arg.split('=')[0]! : arg);
  if (service.entrypoint !== undefined) out.push(...[service.entrypoint].flat());
  return out;
}

const thirdParty = Object.entries(compose.services).filter(([, s]) => s.image !== undefined && s.image !== LETHE_IMAGE);
const images = [...new Set([...thirdParty.map(([, s]) => s.image!), nodeImage!])].sort();

/** build-images.sh's `stand_in` cases: image glob → stand-in ("-" none, "?" unknown). */
function standInOf(image: string): string | undefined {
  const script = read('infra/docker/build-images.sh');
  const body = /stand_in\(\) \{\n {2}case "\$1" in\n([\s\S]*?)\n {2}esac/.exec(script)?.[1] ?? '';
  for (const m of body.matchAll(/^\s+(\S+)\) echo (\S+) ;;$/gm)) {
    const glob = new RegExp(
      `^${m[1]!
        .replace(/[.+^${}()|[\]\\/]/g, '\\$&')
        .replaceAll('*', '.*')
        .replaceAll('?', '.')}$`,
    );
    if (glob.test(image)) return m[2]!;
  }
  return undefined;
}

describe('the stand-ins for third-party images (docs/compose-stand-ins.md)', () => {
  it('finds the images the compose file and the Dockerfile name', () => {
    expect(nodeImage).toMatch(/^node:24\.\d+\.\d+-bookworm-slim$/);
    expect(images).toEqual(expect.arrayContaining(['apache/kafka:3.9.1', 'eclipse-mosquitto:2.0.21', 'grafana/grafana:11.6.16']));
    expect(images.length).toBeGreaterThanOrEqual(7);
  });

  it('has a contract section, a table row and a build for every image', () => {
    for (const image of images) {
      expect(section(image), `docs/compose-stand-ins.md has no section "## \`${image}\`"`).toBeDefined();
      const row = doc.split('\n').find((l) => l.startsWith(`| \`${image}\` |`));
      expect(row, `no table row for ${image}`).toBeDefined();
      const standIn = standInOf(image);
      expect(standIn, `build-images.sh has no stand-in case for ${image}`).toBeDefined();
      expect(standIn, image).not.toBe('?');
      if (standIn === '-') {
        expect(row, image).toContain('| none |');
        expect(section(image), image).toMatch(/No stand-in/);
      } else {
        expect(row, image).toContain(`| \`${standIn}\` |`);
        expect(existsSync(join(ROOT, 'infra/docker/images', standIn!, 'Dockerfile')), `infra/docker/images/${standIn}/Dockerfile`).toBe(true);
      }
    }
  });

  it('promises every variable, path, port, program and flag a third-party service relies on', () => {
    let checked = 0;
    for (const [name, service] of thirdParty) {
      const text = section(service.image!);
      if (text === undefined || /No stand-in/.test(text)) continue; // not run here (Grafana)
      const missing = reliedOn(name, service).filter((token) => !text.includes(token));
      expect(missing, `${name} (${service.image}) relies on what docs/compose-stand-ins.md does not promise`).toEqual([]);
      checked += reliedOn(name, service).length;
    }
    // The compose file's interface with its images is not empty (the check above cannot pass vacuously).
    expect(checked).toBeGreaterThan(40);
  });

  it('builds the Kafka and InfluxDB stand-ins from our own scripts, no upstream file copied in', () => {
    // The project writes its own code: the launcher, entry point, tool wrappers and properties
    // follow the images' documented contracts; only binaries (jars, influxd) come from upstream.
    const files = ['kafka', 'influxdb'].flatMap((d) =>
      readdirSync(join(ROOT, 'infra/docker/images', d), { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile())
        .map((e) => join(e.parentPath, e.name)),
    );
    expect(files.length).toBeGreaterThanOrEqual(10);
    const copied = files.filter((f) => /Licensed to the Apache Software Foundation|influxdata/i.test(readFileSync(f, 'utf8')));
    expect(copied).toEqual([]);
  });

  it('ships every /opt/kafka/bin script the compose file calls', () => {
    const called = [...new Set([...read('docker-compose.yml').matchAll(/\/opt\/kafka\/bin\/([\w-]+\.sh)/g)].map((m) => m[1]!))];
    expect(called).toContain('kafka-broker-api-versions.sh'); // the healthcheck
    for (const script of called) {
      expect(existsSync(join(ROOT, 'infra/docker/images/kafka/bin', script)), script).toBe(true);
    }
  });

  it('promises the Lethe image build what the Dockerfile uses of the Node image', () => {
    const dockerfile = read('Dockerfile');
    const node = section(nodeImage!)!;
    expect(dockerfile).toMatch(/npm install --global/);
    expect(node).toMatch(/`npm install --global` works/);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(node).toMatch(/The user `node`, uid 1000/);
  });
});
