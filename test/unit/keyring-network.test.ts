// The keyring is a pseudonym oracle for whoever can call it (guarantee P9), so in the compose
// stack only the gateways may reach its HMAC route: it listens on an alias of an internal network
// that no other service shares, each gateway presents its own token, and the keyring holds only
// their hashes. Static checks of docker-compose.yml (the same file users run).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { COMPOSE_SECRETS } from '../../scripts/compose-secrets.ts';

const ROOT = new URL('../../', import.meta.url).pathname;

interface Service {
  environment?: Record<string, string | number | null>;
  networks?: string[] | Record<string, { aliases?: string[] } | null>;
  secrets?: Array<string | { source: string; target?: string }>;
}
const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
  networks?: Record<string, { internal?: boolean } | null>;
  secrets?: Record<string, { file?: string }>;
};
const services = Object.entries(compose.services);
const networksOf = (s: Service): string[] => (s.networks === undefined ? ['default'] : Array.isArray(s.networks) ? s.networks : Object.keys(s.networks));
const aliasesOn = (s: Service, network: string): string[] =>
  Array.isArray(s.networks) || s.networks === undefined ? [] : (s.networks[network]?.aliases ?? []);
const env = (s: Service): Record<string, string> => Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, v === null ? '' : String(v)]));
// The files the secrets job gives a service (scripts/compose-secrets.ts), in its /run/secrets.
const secretsOf = (name: string): string[] => [...(COMPOSE_SECRETS[name]?.files ?? [])];

const keyring = compose.services.keyring!;
const keyringEnv = env(keyring);
/** The network the keyring's HMAC listener is bound to: the one where HMAC_HOST is its alias. */
const hmacNetworks = networksOf(keyring).filter((n) => aliasesOn(keyring, n).includes(keyringEnv.HMAC_HOST ?? ''));
/** Services that run the gateway (SERVICE=gateway), however many are defined. */
const gateways = services.filter(([, s]) => env(s).SERVICE === 'gateway').map(([name]) => name);

describe('the keyring in compose answers only the gateways', () => {
  it('serves its HMAC route on its own listener, bound to an alias of exactly one internal network', () => {
    expect(keyringEnv.HMAC_HOST, 'HMAC_HOST').toMatch(/^[a-z][a-z0-9-]*$/);
    expect(Number(keyringEnv.HMAC_PORT), 'HMAC_PORT').toBeGreaterThan(0);
    // The health and metrics port is another one: Prometheus reaches that, not the oracle.
    expect(keyringEnv.HMAC_PORT).not.toBe(keyringEnv.HTTP_PORT ?? '9464');
    expect(hmacNetworks).toHaveLength(1);
    expect(compose.networks?.[hmacNetworks[0]!]?.internal, `${hmacNetworks[0]} must be internal`).toBe(true);
    // An alias used on two networks would be reachable from both.
    for (const other of networksOf(keyring).filter((n) => n !== hmacNetworks[0])) expect(aliasesOn(keyring, other)).not.toContain(keyringEnv.HMAC_HOST);
  });

  it('shares that network with gateway services and nothing else', () => {
    const network = hmacNetworks[0]!;
    const members = services
      .filter(([, s]) => networksOf(s).includes(network))
      .map(([name]) => name)
      .sort();
    expect(gateways.length).toBeGreaterThan(0);
    expect(members).toEqual(['keyring', ...gateways].sort());
    // No other service claims the alias, which would take the gateways' requests.
    for (const [name, s] of services) if (name !== 'keyring') for (const n of networksOf(s)) expect(aliasesOn(s, n), name).not.toContain(keyringEnv.HMAC_HOST);
  });

  it('is called only by gateways, through that alias and port', () => {
    const callers = services
      .filter(([, s]) => 'KEYRING_URL' in env(s))
      .map(([name]) => name)
      .sort();
    expect(callers).toEqual([...gateways].sort());
    for (const name of callers) expect(env(compose.services[name]!).KEYRING_URL, name).toBe(`http://${keyringEnv.HMAC_HOST}:${keyringEnv.HMAC_PORT}`);
  });

  it('gives each gateway its own token and the keyring only their hashes', () => {
    expect(keyringEnv.KEYRING_GATEWAY_TOKENS_FILE).toBe('/run/secrets/keyring-gateway-tokens');
    expect(secretsOf('keyring')).toEqual(['keyring-gateway-tokens']);
    const tokens = gateways.map((name) => {
      const file = env(compose.services[name]!).KEYRING_TOKEN_FILE ?? '';
      const secret = file.replace('/run/secrets/', '');
      expect(secret, name).toMatch(/^keyring-token-[a-z][a-z0-9-]*$/);
      expect(secretsOf(name), name).toContain(secret);
      return secret;
    });
    expect(new Set(tokens).size, 'gateways sharing a keyring token').toBe(tokens.length);
    // No one else mounts a keyring token or the hash file.
    for (const [name, s] of services) {
      for (const secret of secretsOf(name).filter((x) => x.startsWith('keyring-'))) {
        if (secret === 'keyring-gateway-tokens') expect(name).toBe('keyring');
        else expect(env(s).KEYRING_TOKEN_FILE, `${name} mounts ${secret}`).toBe(`/run/secrets/${secret}`);
      }
    }
  });
});
