// The simulator's one command line (command-line.ts), shared by `lethe simulate` and the
// simulator service: its refusals come before any connection, each naming what to fix; options
// fall back to the environment the service is configured with. A run against real Mosquitto is
// in test/integration/simulate-command.test.ts.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { simulateCommand, simulateHelp, SimulateUsageError } from '../src/command-line.ts';

const dir = mkdtempSync(join(tmpdir(), 'simulate-command-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l: string) => void out.push(l), err: (l: string) => void err.push(l) }, out, err };
}

// Nothing listens on port 9 of loopback: a run that got as far as connecting would fail, not hang.
const URL = 'mqtt://127.0.0.1:9';

describe('simulateCommand', () => {
  it('lists the scenarios', async () => {
    const { io, out } = capture();
    expect(await simulateCommand(['--list'], io, {})).toBe(0);
    expect(out.map((l) => l.split(' ')[0])).toEqual(expect.arrayContaining(['normal-day', 'rush-hour', 'storm-overflow', 'festival-crowd']));
  });

  it.each([
    [['--rate', '0'], { FLEET_SECRET: 's' }, /--rate must be a positive number, not "0"/],
    [['--ticks', '1.5'], { FLEET_SECRET: 's' }, /--ticks must be a positive whole number, not "1.5"/],
    [['--scenario', 'carnival'], { FLEET_SECRET: 's' }, /carnival/],
    [['--fleet', '/nonexistent/fleet.json'], { FLEET_SECRET: 's' }, /cannot load the fleet/],
    [['--colour', 'red'], { FLEET_SECRET: 's' }, /colour/],
    [[], {}, /the fleet secret is needed .* FLEET_SECRET or FLEET_SECRET_FILE, or give --fleet-secret-file/],
    [[], { FLEET_SECRET: 's', FLEET_SECRET_FILE: '/x' }, /set FLEET_SECRET or FLEET_SECRET_FILE, not both/],
    [['--fleet-secret-file', '/nonexistent/secret'], {}, /cannot read \/nonexistent\/secret \(ENOENT\)/],
    // The service's environment is read like the flags.
    [[], { FLEET_SECRET: 's', RATE: '-3' }, /--rate must be a positive number, not "-3"/],
    [[], { FLEET_SECRET: 's', SCENARIO: 'carnival' }, /carnival/],
  ])('refuses %j with %j before connecting', async (args, env, message) => {
    const { io, out } = capture();
    const run = simulateCommand(['--url', URL, ...args], io, env);
    await expect(run).rejects.toThrow(SimulateUsageError);
    await expect(run).rejects.toThrow(message);
    expect(out).toEqual([]);
  });

  it('refuses an empty fleet secret file, naming it', async () => {
    const file = join(dir, 'empty');
    writeFileSync(file, '\n');
    await expect(simulateCommand(['--url', URL, '--fleet-secret-file', file], capture().io, {})).rejects.toThrow(`${file} is empty`);
  });

  it('documents every option and the environment variable of each', () => {
    const help = simulateHelp('lethe-simulate');
    expect(help).toMatch(/^Usage: lethe-simulate \[options\]/);
    for (const option of ['--url', '--scenario', '--seed', '--rate', '--ticks', '--fleet-secret-file', '--fleet', '--list', '--help'])
      expect(help).toContain(option);
    for (const variable of ['MQTT_URL', 'SCENARIO', 'SEED', 'RATE', 'TICKS', 'FLEET_SECRET', 'FLEET_SECRET_FILE', 'FLEET_FILE'])
      expect(help).toContain(variable);
  });
});
