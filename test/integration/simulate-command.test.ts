// The simulator's command line (services/simulator/src/command-line.ts: `lethe simulate` and the
// simulator service) against real Mosquitto: the whole fleet, each device as its own MQTT user,
// every reading acknowledged; a wrong fleet secret gets nothing through and says why.
import { describe, expect, inject, it } from 'vitest';
import { simulateCommand } from '../../services/simulator/src/command-line.ts';

const infra = inject('infra');

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l: string) => void out.push(l), err: (l: string) => void err.push(l) }, out, err };
}

describe('the simulator command line on real Mosquitto', () => {
  it('publishes a reading of every device, each acknowledged', async () => {
    const { io, out, err } = capture();
    const code = await simulateCommand(['--url', infra.mqttUrl, '--ticks', '1', '--rate', '216', '--seed', 'simulate-command'], io, {
      FLEET_SECRET: infra.fleetSecret,
    });
    expect(err).toEqual([]);
    expect(code).toBe(0);
    expect(out[0]).toMatch(/^simulating 108 devices, scenario normal-day, 216\.0 readings\/s/);
    expect(out.at(-1)).toMatch(/tick 1\/1 \(100 %\): 108 readings acknowledged/);
  });

  it('gets nothing through with a wrong fleet secret, and says so', async () => {
    const { io, err } = capture();
    const code = await simulateCommand(['--url', infra.mqttUrl, '--ticks', '1', '--rate', '216'], io, { FLEET_SECRET: 'not-the-fleet-secret' });
    expect(code).toBe(1);
    expect(err.join('\n')).toMatch(/no reading was acknowledged by mqtt:\/\/.*(Not authorized|Bad username|refused)/i);
  }, 60_000);
});
