// Generates every secret the stack needs, once, into a directory (default ./secrets, which
// git ignores): there are no default passwords anywhere. Re-running keeps existing secrets
// and only fills in missing ones, so it is safe to run before every `docker compose up`.
//
//   node scripts/setup-secrets.ts [--dir secrets]
//   node scripts/setup-secrets.ts --issue-token <requester id>    # prints a new data-request token once
//   node scripts/setup-secrets.ts --revoke-token <requester id>
//   node scripts/setup-secrets.ts --mqtt-tls [--mqtt-tls-name mqtt.example.org ...]
//   node scripts/setup-secrets.ts --kafka-sasl
//   node scripts/setup-secrets.ts --keyring-gateway gateway --keyring-gateway gateway-2
//   node scripts/setup-secrets.ts --revoke-keyring-gateway gateway-2
//
// Opt-in extras: --mqtt-tls makes a private CA and a server certificate for Mosquitto's TLS
// listener (mqtt-tls-*; valid for mosquitto, localhost, 127.0.0.1 and every --mqtt-tls-name);
// --kafka-sasl generates the SCRAM passwords of the services' Kafka users (kafka-<service>-password).
//
// Keyring tokens: one per gateway (keyring-token-<id>; the compose stack's gateway is `gateway`),
// which that gateway presents to the keyring; the keyring reads only their SHA-256 hashes from
// keyring-gateway-tokens, rewritten from the keyring-token-* files on every run. More gateways:
// name each with --keyring-gateway; revoking one deletes its token (restart the keyring).
//
// Requester tokens (seeds/requesters.yaml lists the requesters) are never stored: the api reads
// only their SHA-256 hashes from api-requester-tokens. A token is printed once when issued;
// issuing again replaces it. There is no token until one is issued.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { devicePassword, generateSecret, mosquittoPasswordLine, tokenHash } from '@lethe/config';
import { DEFAULT_FLEET_PATH, loadFleet } from '@lethe/schemas';
import { KAFKA_SERVICES } from './kafka-acls.ts';
import { ensureTlsCertificates } from './tls-certs.ts';
import { DEFAULT_REQUESTERS_PATH, loadRequesters, TokenHashesSchema, type TokenHashes } from '../services/api/src/requesters.ts';
import { GATEWAY_ID_PATTERN, gatewayTokensFile } from '../services/keyring/src/gateway-tokens.ts';

const { values } = parseArgs({
  options: {
    dir: { type: 'string', default: process.env.LETHE_SECRETS_DIR ?? 'secrets' },
    fleet: { type: 'string' },
    requesters: { type: 'string' },
    'issue-token': { type: 'string' },
    'revoke-token': { type: 'string' },
    'mqtt-tls': { type: 'boolean', default: false },
    'mqtt-tls-name': { type: 'string', multiple: true, default: [] },
    'kafka-sasl': { type: 'boolean', default: false },
    'keyring-gateway': { type: 'string', multiple: true, default: ['gateway'] },
    'revoke-keyring-gateway': { type: 'string', multiple: true, default: [] },
  },
});
const dir = resolve(values.dir!);
// With --issue-token, stdout carries the token alone; everything else goes to stderr.
const say = values['issue-token'] === undefined ? console.log : console.error;
mkdirSync(dir, { recursive: true, mode: 0o700 });
// A folder that was already there (git keeps ./secrets for the compose job's bind mount) has
// the umask's mode: the files are 0644 for the containers' users, the folder keeps others out.
chmodSync(dir, 0o700);

function secret(name: string, make: () => string = generateSecret, mode = 0o644): string {
  const path = join(dir, name);
  if (!existsSync(path)) {
    // 0644 inside a 0700 directory: compose mounts single files into containers whose users
    // (grafana 472, node 1000) are not the host user; the directory keeps other host users out.
    // Files only a container's root reads (Mosquitto's) are 0600.
    writeFileSync(path, make(), { mode });
    say(`generated ${name}`);
  }
  return readFileSync(path, 'utf8').trim();
}

const fleetSecret = secret('fleet-secret');
const gatewayPassword = secret('mqtt-gateway-password');
// The compose Mosquitto's healthcheck user: may connect, may read and write nothing (infra/mosquitto/acl).
const healthcheckPassword = secret('mqtt-healthcheck-password', generateSecret, 0o600);
secret('influxdb-admin-password');
secret('influxdb-admin-token');
secret('grafana-admin-password');
secret('grafana-secret-key');
// The differential-privacy noise key: hex, because the processor reads raw key bytes.
secret('processor-noise-key', () => randomBytes(32).toString('hex'));
// Each gateway's own bearer token for the keyring (shared pseudonym keys), and the hashes the
// keyring checks them against: a gateway is known by its token, gets its own budget, and can be
// revoked alone.
const KEYRING_TOKEN_PREFIX = 'keyring-token-';
for (const id of [...values['keyring-gateway']!, ...values['revoke-keyring-gateway']!]) {
  if (!GATEWAY_ID_PATTERN.test(id)) {
    console.error(`"${id}" is not a gateway id (lower-case letters, digits and "-", starting with a letter)`);
    process.exit(2);
  }
}
for (const id of values['revoke-keyring-gateway']!) {
  rmSync(join(dir, `${KEYRING_TOKEN_PREFIX}${id}`), { force: true });
  say(`revoked the keyring token of ${id} (restart the keyring)`);
}
for (const id of values['keyring-gateway']!) if (!values['revoke-keyring-gateway']!.includes(id)) secret(`${KEYRING_TOKEN_PREFIX}${id}`);
const keyringTokens = Object.fromEntries(
  readdirSync(dir)
    .filter((name) => name.startsWith(KEYRING_TOKEN_PREFIX) && GATEWAY_ID_PATTERN.test(name.slice(KEYRING_TOKEN_PREFIX.length)))
    .map((name) => [name.slice(KEYRING_TOKEN_PREFIX.length), readFileSync(join(dir, name), 'utf8').trim()]),
);
// Derived, so rewritten every time (as mosquitto-passwd); only hashes, never a token.
writeFileSync(join(dir, 'keyring-gateway-tokens.tmp'), gatewayTokensFile(keyringTokens), { mode: 0o644 });
renameSync(join(dir, 'keyring-gateway-tokens.tmp'), join(dir, 'keyring-gateway-tokens'));
// Hashes of the data-request tokens; empty until a token is issued.
secret('api-requester-tokens', () => JSON.stringify({ version: 1, tokens: {} } satisfies TokenHashes, null, 2) + '\n');

// The password file is rewritten every time (it is derived; fresh salts are harmless).
const fleet = loadFleet(values.fleet ?? DEFAULT_FLEET_PATH);
const lines = [
  mosquittoPasswordLine('lethe-gateway', gatewayPassword),
  mosquittoPasswordLine('lethe-healthcheck', healthcheckPassword),
  ...fleet.devices.map((d) => mosquittoPasswordLine(d.id, devicePassword(fleetSecret, d.id))),
];
// 0600: the compose Mosquitto copies it, as root, to a tmpfs its own user owns (docker-compose.yml).
writeFileSync(join(dir, 'mosquitto-passwd'), lines.join('\n') + '\n', { mode: 0o600 });
chmodSync(join(dir, 'mosquitto-passwd'), 0o600);
say(`wrote mosquitto-passwd for ${fleet.devices.length} devices and the gateway into ${dir}`);

if (values['mqtt-tls']) {
  const names = [...new Set(['mosquitto', 'localhost', '127.0.0.1', ...values['mqtt-tls-name']!])];
  const { generated } = ensureTlsCertificates({ dir, prefix: 'mqtt-tls', names });
  if (generated.length > 0)
    say(`generated the MQTT TLS ${generated.join(' and ')} certificate (${names.join(', ')}); clients need ${join(dir, 'mqtt-tls-ca.crt')}`);
}
if (values['kafka-sasl']) {
  for (const service of KAFKA_SERVICES) secret(`kafka-${service}-password`);
}

// Issuing or revoking a requester's data-request token.
const issue = values['issue-token'];
const revoke = values['revoke-token'];
if (issue !== undefined || revoke !== undefined) {
  const id = (issue ?? revoke)!;
  const requesters = loadRequesters(values.requesters ?? DEFAULT_REQUESTERS_PATH);
  if (!requesters.some((r) => r.id === id)) {
    console.error(`unknown requester "${id}"; the requesters are: ${requesters.map((r) => r.id).join(', ')}`);
    process.exit(2);
  }
  const path = join(dir, 'api-requester-tokens');
  const file = TokenHashesSchema.parse(JSON.parse(readFileSync(path, 'utf8')));
  let token: string | undefined;
  if (issue !== undefined) {
    token = generateSecret();
    file.tokens[id] = tokenHash(token);
  } else {
    delete file.tokens[id];
  }
  writeFileSync(`${path}.tmp`, JSON.stringify(file, null, 2) + '\n', { mode: 0o644 });
  renameSync(`${path}.tmp`, path);
  if (token !== undefined) {
    // stderr for people, stdout for the token alone (so it can be captured: TOKEN=$(… --issue-token id)).
    console.error(`issued a data-request token for ${id} (shown once; only its hash is kept in ${path}; restart the api to use it):`);
    console.log(token);
  } else {
    console.error(`revoked the data-request token of ${id} (restart the api)`);
  }
}
