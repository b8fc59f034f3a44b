// No default, example or committed credential anywhere in the repository's runnable config
// (compose files, .env.example, Dockerfile, infra/, scripts/, seeds/, .ci/, the sources of
// services and packages); the scanner is test/support/credential-scan.ts. It is shown to fail:
// on synthetic bad lines (one per rule) and on a synthetic repository with a bad compose file.
// Credentials are generated at setup into ./secrets and .local/ (git-ignored, never scanned).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type AllowEntry, isRunnableConfig, RULES, scanRepository, scanText } from '../support/credential-scan.ts';

const ROOT = new URL('../../', import.meta.url).pathname;

/**
 * Deliberate exceptions: a test fixture or a documented value that cannot work anywhere.
 * Each needs a reason, and an entry that matches nothing fails the test (no stale exceptions).
 */
const ALLOW: AllowEntry[] = [];

// Built from pieces, so that this file is not itself a list of credentials for other scanners.
const j = (...parts: string[]) => parts.join('');
const RANDOM_TOKEN = j('q7Vd2kLx9', 'PzR4mN8wT', 'b3YcH6sJfE', '1uGaK5oQiW');
const BAD: Array<[rule: string, file: string, line: string]> = [
  ['private-key', 'infra/tls/server.key', j('-----BEGIN ', 'EC PRIVATE KEY-----')],
  ['private-key', 'infra/tls/key.pem', j('-----BEGIN ', 'PRIVATE KEY-----')],
  ['certificate', 'infra/tls/ca.crt', j('-----BEGIN ', 'CERTIFICATE-----')],
  ['grafana-default-secret-key', 'infra/grafana/grafana.ini', j('secret_key = SW2YcwTI', 'b9zpOOhoPsMm')],
  ['literal-service-credential', 'docker-compose.yml', j('      GF_SECURITY_ADMIN_', 'PASSWORD: admin')],
  ['literal-service-credential', 'docker-compose.yml', j('      GF_SECURITY_ADMIN_', 'PASSWORD: "', 'Str0ng-but-committed"')],
  ['literal-service-credential', 'docker-compose.yml', j('      DOCKER_INFLUXDB_INIT_', 'PASSWORD: lethe-admin-pw')],
  ['literal-service-credential', '.env.example', j('DOCKER_INFLUXDB_INIT_', 'ADMIN_TOKEN=abc123def')],
  ['literal-service-credential', 'services/gateway/src/config.ts', j("  MQTT_PASSWORD: z.string().default('", "gateway-pw')")],
  ['admin-admin', 'infra/local/README.md', j('log in with admin', '/admin')],
  ['admin-admin', 'seeds/users.yaml', j('user: admin, pass', 'word: admin')],
  ['weak-or-placeholder-credential', '.env.example', j('MQTT_GATEWAY_', 'PASSWORD=changeme')],
  ['weak-or-placeholder-credential', 'infra/prometheus/prometheus.yml', j('    pass', 'word: secret')],
  ['weak-or-placeholder-credential', 'infra/local/pipeline.sh', j('mosquitto_pub -u LP-0001 -P pass', 'word -t x')],
  ['weak-or-placeholder-credential', 'docker-compose.yml', j('      INFLUX_TOKEN: my-super-secret-', 'auth-token')],
  ['weak-or-placeholder-credential', 'scripts/setup.ts', j('const api', "Key = 'change", "me';")],
  [
    'literal-password',
    'infra/kafka/jaas.conf',
    j('  org.apache.kafka.common.security.scram.ScramLoginModule required username="lethe" pass', 'word="kafka-pw-1";'),
  ],
  ['literal-password', 'services/api/src/main.ts', j('const client = connect({ pass', "word: 'hunter22' });")],
  ['credential-assignment', 'infra/local/kafka.sh', j('KAFKA_SASL_', 'PASSWORD=Zk3vQ9pLm')],
  ['credential-assignment', 'seeds/requesters.yaml', j('    api_', 'key: 4f9c2e7a')],
  ['credentials-in-url', 'docker-compose.yml', j('      MQTT_URL: mqtt://lethe-gateway:', 'hunter2@mosquitto:1883')],
  ['mosquitto-password-hash', 'infra/mosquitto/passwd', j('LP-0001:$7$101$', 'c2FsdHNhbHRzYWx0$aGFzaGhhc2g=')],
  ['known-token-format', 'scripts/deploy.sh', j('export AWS_ACCESS_KEY_ID=AKIA', 'IOSFODNN7EXAMPLE')],
  ['known-token-format', '.ci/run', j('GH=ghp_', 'a'.repeat(36))],
  ['random-looking-token', 'infra/grafana/provisioning/datasources/datasources.yaml', j('      token: ', RANDOM_TOKEN)],
  ['random-looking-token', 'infra/node-runtime.env', j('LETHE_SESSION=', RANDOM_TOKEN)],
];

/** Lines from the real config styles that must pass: references, *_FILE variables, generated values. */
const GOOD: Array<[file: string, line: string]> = [
  ['docker-compose.yml', '      GF_SECURITY_ADMIN_PASSWORD__FILE: /run/secrets/grafana-admin-password'],
  ['docker-compose.yml', '      GF_SECURITY_SECRET_KEY__FILE: /run/secrets/grafana-secret-key'],
  ['docker-compose.yml', '      DOCKER_INFLUXDB_INIT_PASSWORD_FILE: /run/secrets/influxdb-admin-password'],
  ['docker-compose.yml', '      MQTT_PASSWORD_FILE: /run/secrets/mqtt-gateway-password'],
  [
    'docker-compose.yml',
    '        printf -- \'-u lethe-healthcheck\\n-P %s\\n\' "$$(cat /run/secrets/mqtt-healthcheck-password)" > /mosquitto/run/healthcheck/mosquitto_pub &&',
  ],
  ['infra/grafana/provisioning/datasources/datasources.yaml', '      token: $__file{/tokens/influxdb-reader-token}'],
  ['infra/local/influxdb.sh', 'INFLUX_ADMIN_PASSWORD=$password'],
  ['infra/local/kafka.sh', '    printf \'SCRAM-SHA-512=iterations=8192,password=%s\\n\' "$(cat "$f")" >"$tmp"'],
  ['scripts/setup-secrets.ts', "const gatewayPassword = secret('mqtt-gateway-password');"],
  ['services/gateway/src/config.ts', '  MQTT_PASSWORD: z.string().min(1),'],
  ['packages/kafka/src/sasl.ts', '  const { KAFKA_SASL_USERNAME: username, KAFKA_SASL_PASSWORD: password } = config;'],
  ['packages/kafka/src/topics.ts', 'export async function ensureTopics(admin: Admin, specs: readonly TopicSpec[]) {'],
  ['docker-compose.yml', '    image: nginxinc/nginx-unprivileged:1.28.0-alpine@sha256:094aa5b178bb09e30761325e37ff053aa4382e1e372a2a5dcd73b24170483b70'],
  ['infra/mosquitto/acl', 'pattern write lethe/v1/+/%u/reading'],
  ['infra/local/pipeline.sh', '  MQTT_PASSWORD_FILE="$SECRETS/mqtt-gateway-password" \\'],
  ['infra/node-runtime.env', 'LETHE_V8_FLAGS=--heap-growing-percent=50'],
];

describe('the credential scanner', () => {
  it.each(BAD)('finds %s in %s', (rule, file, line) => {
    const rules = scanText(file, line).map((f) => f.rule);
    expect(rules, line).toContain(rule);
  });

  it('has a failing example for every rule', () => {
    expect(new Set(BAD.map(([rule]) => rule))).toEqual(new Set(RULES.map((r) => r.id)));
  });

  it.each(GOOD)('accepts a reference or generated value in %s: %s', (file, line) => {
    expect(scanText(file, line)).toEqual([]);
  });

  it('never prints a whole suspicious value', () => {
    const findings = scanText('infra/x.yaml', j('token: ', RANDOM_TOKEN));
    expect(findings.length).toBeGreaterThan(0);
    for (const f of findings) expect(f.excerpt).not.toContain(RANDOM_TOKEN);
  });

  describe('on a synthetic repository', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lethe-credential-scan-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('fails on a compose file with Grafana defaults and on a key committed anywhere, not on test values or git-ignored secrets', () => {
      mkdirSync(join(dir, 'test'), { recursive: true });
      mkdirSync(join(dir, 'docs'), { recursive: true });
      mkdirSync(join(dir, 'secrets'), { recursive: true });
      writeFileSync(join(dir, '.gitignore'), 'secrets/\n');
      writeFileSync(join(dir, 'docker-compose.yml'), j('services:\n  grafana:\n    environment:\n      GF_SECURITY_ADMIN_', 'PASSWORD: admin\n'));
      writeFileSync(join(dir, 'test/fixture.test.ts'), j("const password = 'change", "me';\n"));
      writeFileSync(join(dir, 'docs/tls.md'), j('Example:\n-----BEGIN ', 'RSA PRIVATE KEY-----\n'));
      writeFileSync(join(dir, 'secrets/mqtt-tls-server.key'), j('-----BEGIN ', 'PRIVATE KEY-----\n'));
      writeFileSync(join(dir, 'secrets/grafana-admin-password'), RANDOM_TOKEN);
      const { findings, scanned } = scanRepository(dir);
      expect(scanned).toEqual(['docker-compose.yml']);
      expect(new Set(findings.map((f) => `${f.file}:${f.line}`))).toEqual(new Set(['docker-compose.yml:4', 'docs/tls.md:2']));
      expect(findings.map((f) => f.rule)).toEqual(expect.arrayContaining(['literal-service-credential', 'private-key']));
    });
  });
});

describe('the repository', () => {
  const result = scanRepository(ROOT, ALLOW);

  it('scans its runnable config: compose, .env.example, Dockerfile, infra, scripts, seeds, CI and the service sources', () => {
    for (const file of [
      'docker-compose.yml',
      'docker-compose.mqtt-tls.yml',
      '.env.example',
      'Dockerfile',
      'infra/mosquitto/acl',
      'infra/influxdb-writer-proxy/default.conf',
      'infra/grafana/provisioning/datasources/datasources.yaml',
      'infra/local/kafka.sh',
      'scripts/setup-secrets.ts',
      'seeds/policy.yaml',
      '.ci/run',
      'services/gateway/src/config.ts',
    ]) {
      expect(result.scanned, file).toContain(file);
    }
    expect(result.scanned.every(isRunnableConfig)).toBe(true);
    expect(result.scanned.some((f) => f.startsWith('secrets/') || f.startsWith('.local') || f.startsWith('test/'))).toBe(false);
    // Everything else (docs, tests, bench) is still searched for committed key material.
    expect(result.scannedForKeys).toEqual(expect.arrayContaining(['README.md', 'docs/privacy.md', 'test/unit/credential-scan.test.ts']));
  });

  it('holds no default, example or committed credential', () => {
    const report = result.findings.map((f) => `${f.file}:${f.line} [${f.rule}] ${f.excerpt}`).join('\n');
    expect(result.findings, `credentials in the runnable config (generate them at setup instead, e.g. scripts/setup-secrets.ts):\n${report}`).toEqual([]);
  });

  it('keeps no stale allowlist entries', () => {
    expect(result.unusedAllow).toEqual([]);
    for (const entry of ALLOW) expect(entry.reason.length, `${entry.file}: say why`).toBeGreaterThan(10);
  });
});
