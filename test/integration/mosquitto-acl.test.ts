// Mosquitto's authentication and ACL as generated from the fleet. Mosquitto acknowledges a
// denied publish anyway, so the check is that a subscriber receives nothing.
import { devicePassword } from '@lethe/config';
import { readingTopic } from '@lethe/schemas';
import { connectAsync } from 'mqtt';
import { describe, expect, inject, it } from 'vitest';

const infra = inject('infra');

describe('Mosquitto', () => {
  it('refuses anonymous and wrong-password connections', async () => {
    await expect(connectAsync(infra.mqttUrl, { reconnectPeriod: 0, connectTimeout: 5000 })).rejects.toThrow(/Not authorized|Connection refused/i);
    await expect(connectAsync(infra.mqttUrl, { username: 'LP-0001', password: 'wrong', reconnectPeriod: 0, connectTimeout: 5000 })).rejects.toThrow(
      /Not authorized|Bad username|Connection refused/i,
    );
  });

  it('lets a device publish only on its own topic', async () => {
    const gateway = await connectAsync(infra.mqttUrl, {
      username: 'lethe-gateway',
      password: infra.gatewayPassword,
      clientId: `acl-test-${Date.now()}`,
      reconnectPeriod: 0,
    });
    const received: string[] = [];
    gateway.on('message', (topic) => received.push(topic));
    await gateway.subscribeAsync('lethe/v1/+/+/reading', { qos: 1 });
    const device = await connectAsync(infra.mqttUrl, { username: 'LP-0001', password: devicePassword(infra.fleetSecret, 'LP-0001'), reconnectPeriod: 0 });
    await device.publishAsync(readingTopic('lamppost', 'LP-0002'), '{}', { qos: 1 });
    await device.publishAsync(readingTopic('lamppost', 'LP-0001'), '{}', { qos: 1 });
    await new Promise((r) => setTimeout(r, 1000));
    expect(received).toEqual([readingTopic('lamppost', 'LP-0001')]);
    await device.endAsync();
    await gateway.endAsync();
  });
});
