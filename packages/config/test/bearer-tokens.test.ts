// The bearer tokens the api and the keyring check: the holder a header proves, nothing for a
// wrong token, the hash itself or a malformed header; a token file's problems listed without
// the hashes.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { bearerTokenCheck, parseTokenFile, tokenHash } from '../src/bearer-tokens.ts';

const TOKEN = 'a-long-enough-token-for-gateway-1';
const OTHER = 'a-long-enough-token-for-gateway-2';
const Schema = z.strictObject({ version: z.literal(1), tokens: z.record(z.string(), z.string().regex(/^[0-9a-f]{64}$/, 'must be a hex SHA-256')) });

describe('bearer tokens', () => {
  it('finds the holder a header proves, and no one for a wrong token, the hash itself or another scheme', () => {
    const check = bearerTokenCheck([
      { hash: tokenHash(TOKEN), holder: 'gateway-1' },
      { hash: tokenHash(OTHER), holder: 'gateway-2' },
    ]);
    expect(check(`Bearer ${TOKEN}`)).toBe('gateway-1');
    expect(check(`bearer  ${OTHER} `)).toBe('gateway-2');
    expect(check(`Bearer ${TOKEN}x`)).toBeUndefined();
    expect(check(`Bearer ${tokenHash(TOKEN)}`)).toBeUndefined();
    expect(check(`Basic ${TOKEN}`)).toBeUndefined();
    expect(check(undefined)).toBeUndefined();
  });

  it('reads a token file, and names every problem of a bad one without its hashes', () => {
    const hash = tokenHash(TOKEN);
    expect(parseTokenFile(JSON.stringify({ version: 1, tokens: { g: hash } }), Schema, 'test token file').tokens).toEqual({ g: hash });
    expect(() => parseTokenFile('{', Schema, 'test token file')).toThrow('The test token file is not JSON; regenerate it with scripts/setup-secrets.ts.');
    const bad = () => parseTokenFile(JSON.stringify({ version: 2, tokens: { g: `${hash}0` } }), Schema, 'test token file');
    expect(bad).toThrow(/^Invalid test token file:\n {2}- version: .*\n {2}- tokens\.g: must be a hex SHA-256$/);
    expect(bad).not.toThrow(hash);
  });
});
