// Least privilege on the MQTT side, checked on real Mosquitto. A denied publish is still
// acknowledged (PUBACK), and a denied subscription may still be granted, so every check here
// is by receipt: a subscriber that may read the topic receives nothing, while the same
// subscriber does receive an allowed message sent in the same run (the positive control).
// The shared broker (the default, plain setup) holds the ACL checks; the opt-in TLS listener
// runs on a private broker started here with infra/local/up.sh and LETHE_MQTT_TLS_PORT.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { devicePassword } from '@lethe/config';
import { readingTopic } from '@lethe/schemas';
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ensureTlsCertificates } from '../../scripts/tls-certs.ts';
import { startOptInInfra, type OptInInfra } from '../support/opt-in-infra.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const infra = inject('infra');
const RUN = randomBytes(4).toString('hex');
const SETTLE_MS = 1000;
const READINGS = 'lethe/v1/+/+/reading';

const base: IClientOptions = { reconnectPeriod: 0, connectTimeout: 5000 };
const clients: MqttClient[] = [];

async function connect(url: string, options: IClientOptions): Promise<MqttClient> {
  const client = await connectAsync(url, { ...base, clientId: `sec-${RUN}-${clients.length}`, ...options });
  clients.push(client);
  return client;
}
const asDevice = (url: string, id: string, fleetSecret: string, extra: IClientOptions = {}) =>
  connect(url, { username: id, password: devicePassword(fleetSecret, id), ...extra });

/** Subscribes and keeps the payloads of this run's messages (other suites' traffic is ignored). */
async function listen(client: MqttClient, filters: string[]): Promise<{ payloads: string[]; granted: number[] }> {
  const payloads: string[] = [];
  client.on('message', (_topic, payload) => {
    const text = payload.toString();
    if (text.includes(RUN)) payloads.push(text);
  });
  const granted = await client.subscribeAsync(filters, { qos: 1 });
  return { payloads, granted: granted.map((g) => g.qos) };
}

const payload = (label: string) => JSON.stringify({ run: RUN, label });
const settle = () => new Promise((r) => setTimeout(r, SETTLE_MS));
const labels = (payloads: string[]) => payloads.map((p) => (JSON.parse(p) as { label: string }).label).sort();

afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.endAsync(true)));
});

describe('Mosquitto ACL (shared broker, by subscriber receipt)', () => {
  it("does not deliver what a device publishes on another device's topic, even with that device's client id", async () => {
    const gateway = await connect(infra.mqttUrl, { username: 'lethe-gateway', password: infra.gatewayPassword });
    const seen = await listen(gateway, [READINGS]);
    // The client id is the victim's: the ACL matches on %u (the authenticated user), so it does not help.
    const device = await asDevice(infra.mqttUrl, 'LP-0001', infra.fleetSecret, { clientId: 'LP-0002' });
    await device.publishAsync(readingTopic('lamppost', 'LP-0002'), payload('as LP-0002'), { qos: 1 });
    await device.publishAsync(readingTopic('sewer', 'SW-0001'), payload('as SW-0001'), { qos: 1 });
    await device.publishAsync(readingTopic('lamppost', 'LP-0001'), payload('own'), { qos: 1 });
    await settle();
    expect(labels(seen.payloads)).toEqual(['own']);
  });

  it('lets a device read nothing, not even its own topic', async () => {
    const gateway = await connect(infra.mqttUrl, { username: 'lethe-gateway', password: infra.gatewayPassword });
    const control = await listen(gateway, [READINGS]);
    const reader = await asDevice(infra.mqttUrl, 'LP-0003', infra.fleetSecret);
    const readerSeen = await listen(reader, [readingTopic('lamppost', 'LP-0003'), READINGS, '#', '$SYS/#']);
    const other = await asDevice(infra.mqttUrl, 'LP-0004', infra.fleetSecret);
    await reader.publishAsync(readingTopic('lamppost', 'LP-0003'), payload('LP-0003'), { qos: 1 });
    await other.publishAsync(readingTopic('lamppost', 'LP-0004'), payload('LP-0004'), { qos: 1 });
    await settle();
    expect(labels(control.payloads), 'the gateway (positive control) receives both readings').toEqual(['LP-0003', 'LP-0004']);
    expect(readerSeen.payloads, `the device received messages (SUBACK codes ${readerSeen.granted.join(',')})`).toEqual([]);
  });

  it('lets the gateway read the readings but publish nothing', async () => {
    const listener = await connect(infra.mqttUrl, { username: 'lethe-gateway', password: infra.gatewayPassword });
    const seen = await listen(listener, [READINGS]);
    const gateway = await connect(infra.mqttUrl, { username: 'lethe-gateway', password: infra.gatewayPassword });
    await gateway.publishAsync(readingTopic('lamppost', 'LP-0005'), payload('forged by the gateway'), { qos: 1 });
    const device = await asDevice(infra.mqttUrl, 'LP-0005', infra.fleetSecret);
    await device.publishAsync(readingTopic('lamppost', 'LP-0005'), payload('LP-0005'), { qos: 1 });
    await settle();
    expect(labels(seen.payloads)).toEqual(['LP-0005']);
  });

  it("lets the compose healthcheck's user connect, and read and write nothing", async () => {
    expect(infra.healthcheckPassword, 'secrets/mqtt-healthcheck-password, from `pnpm run secrets` (restart the broker after generating it)').toBeDefined();
    const gateway = await connect(infra.mqttUrl, { username: 'lethe-gateway', password: infra.gatewayPassword });
    const control = await listen(gateway, [READINGS]);
    const healthcheck = await connect(infra.mqttUrl, { username: 'lethe-healthcheck', password: infra.healthcheckPassword! });
    const healthcheckSeen = await listen(healthcheck, [READINGS, '#']);
    await healthcheck.publishAsync(readingTopic('lamppost', 'LP-0006'), payload('forged by the healthcheck'), { qos: 1 });
    const device = await asDevice(infra.mqttUrl, 'LP-0006', infra.fleetSecret);
    await device.publishAsync(readingTopic('lamppost', 'LP-0006'), payload('LP-0006'), { qos: 1 });
    await settle();
    expect(labels(control.payloads), "the gateway (positive control) receives the device's reading only").toEqual(['LP-0006']);
    expect(healthcheckSeen.payloads, `the healthcheck user received messages (SUBACK codes ${healthcheckSeen.granted.join(',')})`).toEqual([]);
  });

  it("refuses anonymous clients, unknown users, wrong passwords and another device's password", async () => {
    const refused = /Not authorized|Bad username or password|Connection refused/i;
    const attempts: Array<[string, IClientOptions]> = [
      ['anonymous', {}],
      ['a wrong password', { username: 'LP-0001', password: 'wrong' }],
      ['an empty password', { username: 'LP-0001', password: '' }],
      ["another device's password", { username: 'LP-0001', password: devicePassword(infra.fleetSecret, 'LP-0002') }],
      ['a device not in the fleet', { username: 'LP-9999', password: devicePassword(infra.fleetSecret, 'LP-9999') }],
      ["the gateway with a device's password", { username: 'lethe-gateway', password: devicePassword(infra.fleetSecret, 'LP-0001') }],
    ];
    for (const [what, options] of attempts) {
      await expect(connectAsync(infra.mqttUrl, { ...base, ...options }), what).rejects.toThrow(refused);
    }
  });

  it('keeps the ACL on %u with devices write-only and the gateway read-only, and no anonymous access in any config', () => {
    const rules = readFileSync(join(ROOT, 'infra/mosquitto/acl'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    // The healthcheck's user has no topic rule at all: it may connect and nothing else.
    expect(rules).toEqual(['pattern write lethe/v1/+/%u/reading', 'user lethe-gateway', 'topic read lethe/v1/+/+/reading', 'user lethe-healthcheck']);
    for (const file of ['infra/mosquitto/mosquitto.conf', 'infra/mosquitto/mosquitto-tls.conf']) {
      const conf = readFileSync(join(ROOT, file), 'utf8');
      expect(conf, file).toMatch(/^allow_anonymous false$/m);
      expect(conf, file).toMatch(/^acl_file /m);
      expect(conf, file).toMatch(/^password_file /m);
      expect(conf, file).not.toMatch(/^per_listener_settings true/m);
    }
  });
});

describe('Mosquitto TLS listener (opt-in, private broker)', () => {
  let tls: OptInInfra;
  let ca: Buffer;
  let fleetSecret: string;
  let otherCaDir: string;

  beforeAll(async () => {
    tls = await startOptInInfra(['mosquitto']);
    ca = readFileSync(join(tls.secretsDir, 'mqtt-tls-ca.crt'));
    fleetSecret = tls.secret('fleet-secret');
    otherCaDir = mkdtempSync(join(tmpdir(), 'lethe-other-ca-'));
  }, 120_000);

  afterAll(async () => {
    await Promise.allSettled(clients.map((c) => c.endAsync(true)));
    await tls?.stop();
    if (otherCaDir) rmSync(otherCaDir, { recursive: true, force: true });
  });

  it('is opt-in: up.sh generated the CA and server certificate into the secrets directory, the keys private to it', () => {
    expect(tls.endpoints.MQTT_TLS_URL).toMatch(/^mqtts:\/\/127\.0\.0\.1:\d+$/);
    expect(statSync(join(tls.secretsDir, 'mqtt-tls-ca.key')).mode & 0o777).toBe(0o600);
    expect(statSync(tls.secretsDir).mode & 0o777).toBe(0o700);
  });

  it('accepts a device that verifies the broker with the generated CA (TLS 1.2+), and its reading reaches the gateway', async () => {
    const gateway = await connect(tls.endpoints.MQTT_URL!, { username: 'lethe-gateway', password: tls.secret('mqtt-gateway-password') });
    const seen = await listen(gateway, [READINGS]);
    const device = await asDevice(tls.endpoints.MQTT_TLS_URL!, 'SW-0002', fleetSecret, { ca });
    const socket = device.stream as TLSSocket;
    expect(socket.authorized).toBe(true);
    expect(['TLSv1.2', 'TLSv1.3']).toContain(socket.getProtocol());
    await device.publishAsync(readingTopic('sewer', 'SW-0003'), payload('as SW-0003 over TLS'), { qos: 1 });
    await device.publishAsync(readingTopic('sewer', 'SW-0002'), payload('own over TLS'), { qos: 1 });
    await settle();
    expect(labels(seen.payloads)).toEqual(['own over TLS']);
  });

  it('is refused by a client without the CA, or with another CA', async () => {
    const { caCert: otherCa } = ensureTlsCertificates({ dir: otherCaDir, prefix: 'other', names: ['127.0.0.1'] });
    const untrusted = /self[- ]signed certificate|unable to (verify|get local issuer)/i;
    const options = { username: 'SW-0002', password: devicePassword(fleetSecret, 'SW-0002') };
    await expect(connectAsync(tls.endpoints.MQTT_TLS_URL!, { ...base, ...options })).rejects.toThrow(untrusted);
    await expect(connectAsync(tls.endpoints.MQTT_TLS_URL!, { ...base, ...options, ca: readFileSync(otherCa) })).rejects.toThrow(untrusted);
  });

  it('refuses anonymous and wrong-password clients over TLS too, and plain MQTT on the TLS port', async () => {
    const refused = /Not authorized|Bad username or password|Connection refused/i;
    await expect(connectAsync(tls.endpoints.MQTT_TLS_URL!, { ...base, ca })).rejects.toThrow(refused);
    await expect(connectAsync(tls.endpoints.MQTT_TLS_URL!, { ...base, ca, username: 'SW-0002', password: 'wrong' })).rejects.toThrow(refused);
    const plain = tls.endpoints.MQTT_TLS_URL!.replace('mqtts://', 'mqtt://');
    await expect(
      connectAsync(plain, { ...base, connectTimeout: 3000, username: 'SW-0002', password: devicePassword(fleetSecret, 'SW-0002') }),
    ).rejects.toThrow();
  });
});
