// The compose stack's secrets job (scripts/compose-secrets.ts) with the ownership calls recorded
// instead of made (giving files to other users needs root): what each service's volume receives.
// The job itself runs in `pnpm test:compose`, which checks the result inside the containers.
import { chownSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { COMPOSE_SECRETS, distribute, returnToOwner, type ServiceSecrets } from '../../scripts/compose-secrets.ts';

let work: string;
let held: string;
let into: string;
let owned: Array<[string, number]>;
const chown = (path: string, uid: number) => void owned.push([path.slice(work.length + 1), uid]);

const TABLE: Record<string, ServiceSecrets> = {
  broker: { uid: 1883, files: ['passwd'], optional: ['tls.key'] },
  app: { uid: 1000, files: ['token', 'passwd'] },
};

beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'lethe-compose-secrets-'));
  held = join(work, 'held');
  into = join(work, 'volumes');
  mkdirSync(held);
  owned = [];
  writeFileSync(join(held, 'passwd'), 'p');
  writeFileSync(join(held, 'token'), 't');
  writeFileSync(join(held, 'unused'), 'u');
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

describe("the compose stack's secrets job", () => {
  it('gives each service exactly its files, mode 0400, owned by the user it runs as', () => {
    distribute(held, into, TABLE, chown);
    expect(readdirSync(join(into, 'broker'))).toEqual(['passwd']);
    expect(readdirSync(join(into, 'app')).sort()).toEqual(['passwd', 'token']);
    for (const f of ['broker/passwd', 'app/token', 'app/passwd']) expect(statSync(join(into, f)).mode & 0o777, f).toBe(0o400);
    expect(owned.sort()).toEqual(
      [
        ['volumes/broker/passwd', 1883],
        ['volumes/broker', 1883],
        ['volumes/app/token', 1000],
        ['volumes/app/passwd', 1000],
        ['volumes/app', 1000],
      ].sort(),
    );
  });

  it('takes an optional file (the MQTT TLS key) only when it is there, and leaves nothing stale behind', () => {
    writeFileSync(join(held, 'tls.key'), 'k');
    distribute(held, into, TABLE, chown);
    expect(readdirSync(join(into, 'broker')).sort()).toEqual(['passwd', 'tls.key']);
    // Deleted from ./secrets (the TLS overlay given up): gone from the volume on the next start.
    rmSync(join(held, 'tls.key'));
    distribute(held, into, TABLE, chown);
    expect(readdirSync(join(into, 'broker'))).toEqual(['passwd']);
  });

  it('fails, naming the service and the file, when a file it needs is missing', () => {
    rmSync(join(held, 'token'));
    expect(() => distribute(held, into, TABLE, chown)).toThrow(/app: token/);
  });

  it("gives the files the job made to the folder's owner and leaves the others alone", () => {
    const me = statSync(held).uid;
    // Only files whose owner differs are given: here none (the test made them all).
    expect(returnToOwner(held, chown)).toEqual([]);
    expect(owned).toEqual([]);
    expect(me).toBe(process.getuid!());
    // As root (the job's user), a file another user owns is given back.
    if (me === 0) {
      chownSync(join(held, 'token'), 12345, 12345);
      expect(returnToOwner(held, chown)).toEqual(['token']);
      expect(owned).toEqual([['held/token', 0]]);
    }
  });

  it('covers every secret setup-secrets makes for the stack, each given to at least one service', () => {
    const given = Object.values(COMPOSE_SECRETS).flatMap((s) => s.files);
    expect(new Set(given)).toEqual(
      new Set([
        'fleet-secret',
        'mqtt-gateway-password',
        'mosquitto-passwd',
        'mqtt-healthcheck-password',
        'influxdb-admin-password',
        'influxdb-admin-token',
        'grafana-admin-password',
        'grafana-secret-key',
        'processor-noise-key',
        'keyring-token-gateway',
        'keyring-gateway-tokens',
        'api-requester-tokens',
      ]),
    );
    // The noise key and InfluxDB's admin password go to one service each.
    expect(
      Object.entries(COMPOSE_SECRETS)
        .filter(([, s]) => s.files.includes('processor-noise-key'))
        .map(([n]) => n),
    ).toEqual(['processor']);
    expect(
      Object.entries(COMPOSE_SECRETS)
        .filter(([, s]) => s.files.includes('influxdb-admin-password'))
        .map(([n]) => n),
    ).toEqual(['influxdb']);
  });
});
