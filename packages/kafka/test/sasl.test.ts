import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@lethe/config';
import { afterAll, describe, expect, it } from 'vitest';
import { kafkaSaslFromEnv } from '../src/sasl.ts';

const dir = mkdtempSync(join(tmpdir(), 'lethe-kafka-sasl-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('kafkaSaslFromEnv', () => {
  it('is undefined without credentials, so clients use the plain listener', () => {
    expect(kafkaSaslFromEnv({})).toBeUndefined();
  });

  it('reads SCRAM-SHA-512 credentials, the password also from a *_FILE (as Docker secrets are mounted)', () => {
    const file = join(dir, 'password');
    writeFileSync(file, 'from-a-file\n');
    expect(kafkaSaslFromEnv({ KAFKA_SASL_USERNAME: 'lethe-writer', KAFKA_SASL_PASSWORD_FILE: file })).toEqual({
      mechanism: 'scram-sha-512',
      username: 'lethe-writer',
      password: 'from-a-file',
    });
    expect(kafkaSaslFromEnv({ KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p', KAFKA_SASL_MECHANISM: 'scram-sha-256' })).toEqual({
      mechanism: 'scram-sha-256',
      username: 'u',
      password: 'p',
    });
  });

  it('fails fast, without echoing the password, when only one half is set or the mechanism is unknown', () => {
    expect(() => kafkaSaslFromEnv({ KAFKA_SASL_USERNAME: 'lethe-writer' })).toThrow(ConfigError);
    expect(() => kafkaSaslFromEnv({ KAFKA_SASL_PASSWORD: 'p4ssw0rd-value' })).toThrow(/must be set together/);
    let message = '';
    try {
      kafkaSaslFromEnv({ KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p4ssw0rd-value', KAFKA_SASL_MECHANISM: 'plain' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/KAFKA_SASL_MECHANISM/);
    expect(message).not.toContain('p4ssw0rd-value');
  });
});
