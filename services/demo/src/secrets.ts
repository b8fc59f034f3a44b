// Secrets the demo makes at start, so there is no default password anywhere: the fleet secret
// (each device's MQTT password is derived from it, as in the real stack), the in-process
// gateway's MQTT password, and one data-request token per requester of seeds/requesters.yaml.
// The fleet secret and the tokens are also written, 0600, into a private temporary directory
// (removed at shutdown), so a person can use them with `pnpm lethe …` from another terminal.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSecret, tokenHash } from '@lethe/config';
import type { Requester } from '@lethe/api';

export interface DemoSecrets {
  dir: string;
  fleetSecret: string;
  fleetSecretFile: string;
  gatewayPassword: string;
  /** Per requester: its token and the file holding it. */
  tokens: Array<{ requester: Requester; token: string; file: string }>;
  /** The api's token-hash file content (JSON): hashes only, as the real api reads it. */
  tokenHashes: string;
  remove(): void;
}

export function createDemoSecrets(requesters: readonly Requester[]): DemoSecrets {
  // mkdtemp creates the directory 0700: only this user can list or read it.
  const dir = mkdtempSync(join(tmpdir(), 'lethe-demo-'));
  const write = (name: string, value: string) => {
    const path = join(dir, name);
    writeFileSync(path, `${value}\n`, { mode: 0o600 });
    return path;
  };
  const fleetSecret = generateSecret();
  const tokens = requesters.map((requester) => {
    const token = generateSecret();
    return { requester, token, file: write(`token-${requester.id}`, token) };
  });
  return {
    dir,
    fleetSecret,
    fleetSecretFile: write('fleet-secret', fleetSecret),
    gatewayPassword: generateSecret(),
    tokens,
    tokenHashes: JSON.stringify({ version: 1, tokens: Object.fromEntries(tokens.map((t) => [t.requester.id, tokenHash(t.token)])) }),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
