// The subcommands as a person runs them, without servers: help with examples, and every
// mistake caught before anything is sent — checked by a TCP listener standing in for the
// broker, which must see no connection at all.
import { spawnSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const MAIN = new URL('../src/main.ts', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'lethe-cli-commands-'));
const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' };

function lethe(args: string[], extraEnv: Record<string, string> = {}, input?: string) {
  const run = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', env: { ...env, ...extraEnv }, ...(input === undefined ? {} : { input }) });
  return { code: run.status, stdout: run.stdout.trim(), stderr: run.stderr.trim() };
}

/** The same, asynchronously: the fake broker below runs in this process and must keep accepting. */
function letheAsync(args: string[], extraEnv: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN, ...args], { env: { ...env, ...extraEnv } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('close', (code) => resolve({ code, stdout: stdout.trim(), stderr: stderr.trim() }));
  });
}

let broker: Server;
let brokerUrl: string;
let connections = 0;

beforeAll(async () => {
  broker = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => broker.listen(0, '127.0.0.1', resolve));
  brokerUrl = `mqtt://127.0.0.1:${(broker.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => broker.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

const SEWER = ['levelCm=42.5', 'flowLps=160', 'h2sPpm=1.2', 'temperatureC=22.4', 'overflow=false'];

describe('lethe --help', { timeout: 30_000 }, () => {
  it('lists every subcommand with a summary and an example', () => {
    const run = lethe(['--help']);
    expect(run.code).toBe(0);
    for (const name of ['publish', 'simulate', 'register', 'request', 'audit verify']) {
      expect(run.stdout).toMatch(new RegExp(`Commands:[\\s\\S]*\\n {2}${name} +\\w`));
      expect(run.stdout).toMatch(new RegExp(`Examples:[\\s\\S]*\\n {2}lethe ${name} `));
    }
  });

  it.each(['publish', 'simulate', 'register', 'request'])('shows usage, options and examples for %s --help', (name) => {
    const run = lethe([name, '--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^Usage: lethe ${name}`));
    expect(run.stdout).toMatch(/\nOptions:\n/);
    expect(run.stdout).toMatch(new RegExp(`\\nExamples:\\n {2}(\\S+=\\S+ )?lethe ${name}`));
  });
});

describe('lethe publish', { timeout: 30_000 }, () => {
  it("refuses a reading that breaks its kind's schema, names every problem, exits 2 and sends nothing", async () => {
    const before = connections;
    const run = await letheAsync(['publish', 'SW-0001', '--url', brokerUrl, 'levelCm=high', 'flowLps=160', 'h2sPpm=1.2'], { FLEET_SECRET: 'a-fleet-secret' });
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/not a valid sewer reading, so nothing was sent/);
    expect(run.stderr).toMatch(/- levelCm: .*expected number/);
    expect(run.stderr).toMatch(/- temperatureC: .*expected number/);
    expect(run.stderr).toMatch(/- overflow: .*expected boolean/);
    expect(run.stderr).toMatch(/Fields of a sewer reading: deviceId, seq, ts, levelCm/);
    expect(connections).toBe(before);
  });

  it('refuses a timestamp the gateway would refuse, and a device that is not in the fleet', async () => {
    const before = connections;
    const old = await letheAsync(['publish', 'SW-0001', '--url', brokerUrl, ...SEWER, 'ts=2020-01-01T00:00:00Z'], { FLEET_SECRET: 'x' });
    expect(old).toMatchObject({ code: 2, stderr: expect.stringMatching(/ts: is older than the raw-data TTL \(15 min\)/) });
    const unknown = await letheAsync(['publish', 'SW-9999', '--url', brokerUrl, ...SEWER], { FLEET_SECRET: 'x' });
    expect(unknown).toMatchObject({ code: 2, stderr: expect.stringMatching(/"SW-9999" is not a device of the fleet/) });
    expect(connections).toBe(before);
  });

  it('reads the reading from a file or stdin, fills in deviceId, seq and ts, and shows it with --dry-run', () => {
    const file = join(dir, 'reading.json');
    writeFileSync(file, JSON.stringify({ levelCm: 10, flowLps: 100, h2sPpm: 0.5, temperatureC: 21, overflow: false }));
    const fromFile = lethe(['publish', 'SW-0002', '--file', file, 'levelCm=11', '--dry-run']);
    expect(fromFile.code).toBe(0);
    const message = JSON.parse(fromFile.stdout.split('\n')[1]!) as Record<string, unknown>;
    expect(message).toMatchObject({ deviceId: 'SW-0002', levelCm: 11, flowLps: 100, overflow: false });
    expect(message.seq).toEqual(expect.any(Number));
    expect(Math.abs(Date.parse(String(message.ts)) - Date.now())).toBeLessThan(10_000);
    const fromStdin = lethe(
      ['publish', 'SW-0002', '--file', '-', '--dry-run'],
      {},
      JSON.stringify({ levelCm: 10, flowLps: 100, h2sPpm: 0.5, temperatureC: 21, overflow: true }),
    );
    expect(fromStdin).toMatchObject({ code: 0, stdout: expect.stringContaining('"overflow":true') });
    expect(lethe(['publish', 'SW-0002', '--file', '-'], {}, '{not json')).toMatchObject({ code: 2, stderr: expect.stringMatching(/stdin is not JSON/) });
  });

  it('needs the fleet secret to publish, and says where to get it', async () => {
    const run = await letheAsync(['publish', 'SW-0001', '--url', brokerUrl, ...SEWER]);
    expect(run).toMatchObject({ code: 2, stderr: expect.stringMatching(/fleet secret is needed.*FLEET_SECRET_FILE/s) });
    const both = await letheAsync(['publish', 'SW-0001', '--url', brokerUrl, ...SEWER], { FLEET_SECRET: 'x', FLEET_SECRET_FILE: '/nonexistent' });
    expect(both).toMatchObject({ code: 2, stderr: expect.stringMatching(/set FLEET_SECRET or FLEET_SECRET_FILE, not both/) });
  });

  it('exits 1 when the broker does not accept the connection', async () => {
    const run = await letheAsync(['publish', 'SW-0001', '--url', brokerUrl, '--timeout', '3', ...SEWER], { FLEET_SECRET: 'x' });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/cannot connect to mqtt:\/\/127\.0\.0\.1:\d+ as SW-0001|was not acknowledged/);
  });
});

describe('lethe request and register', { timeout: 30_000 }, () => {
  it('request needs a subject, a purpose and a token, and checks times before filing', () => {
    expect(lethe(['request', '--purpose', 'research'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/--subject is required/) });
    expect(lethe(['request', '--subject', 'person:bob', '--purpose', 'research'])).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/--subject must start with one of plate, mac/),
    });
    expect(lethe(['request', '--subject', 'city', '--purpose', 'research', '--from', 'yesterday'])).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/--from must be an ISO 8601 time/),
    });
    expect(lethe(['request', '--subject', 'city', '--purpose', 'research'])).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/a requester token is needed: set LETHE_TOKEN or LETHE_TOKEN_FILE/),
    });
  });

  it('says clearly when the api cannot be reached', async () => {
    const closed = `http://127.0.0.1:${(broker.address() as AddressInfo).port + 0}`;
    // The fake broker closes every connection at once: not an api.
    const register = await letheAsync(['register', '--api', closed]);
    expect(register.code).toBe(2);
    expect(register.stderr).toMatch(/lethe register: cannot reach the api at http:\/\/127\.0\.0\.1:\d+/);
    const request = await letheAsync(['request', '--api', closed, '--subject', 'city', '--purpose', 'research'], { LETHE_TOKEN: 'a-token-of-sixteen-chars' });
    expect(request).toMatchObject({ code: 2, stderr: expect.stringMatching(/lethe request: cannot reach the api/) });
  });
});
