import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tokenHash } from '@lethe/config';
import { createRequesterDirectory, DEFAULT_REQUESTERS_PATH, loadRequesters, parseRequesters, REQUESTER_TYPES } from '../src/requesters.ts';

const ROOT = new URL('../../../', import.meta.url).pathname;
const requesters = loadRequesters(DEFAULT_REQUESTERS_PATH);

describe('requesters', () => {
  it('ships at least one requester of every type, and no token', () => {
    expect(new Set(requesters.map((r) => r.type))).toEqual(new Set(REQUESTER_TYPES));
    expect(readFileSync(DEFAULT_REQUESTERS_PATH, 'utf8')).not.toMatch(/token:|[0-9a-f]{32}/i);
  });

  it('refuses duplicate ids and unknown types with readable errors', () => {
    expect(() =>
      parseRequesters(
        {
          version: 1,
          requesters: [
            { id: 'a-b', name: 'A', type: 'police' },
            { id: 'a-b', name: 'B', type: 'court' },
          ],
        },
        'x.yaml',
      ),
    ).toThrow(/duplicate ids a-b/);
    expect(() => parseRequesters({ version: 1, requesters: [{ id: 'a-b', name: 'A', type: 'spy' }] }, 'x.yaml')).toThrow(/requesters\.0\.type/);
  });

  it('authenticates a bearer token by its hash, and nothing else', () => {
    const directory = createRequesterDirectory(requesters, JSON.stringify({ version: 1, tokens: { 'high-court': tokenHash('a-long-enough-court-token') } }));
    expect(directory.authenticate('Bearer a-long-enough-court-token')?.id).toBe('high-court');
    expect(directory.authenticate('bearer  a-long-enough-court-token ')?.id).toBe('high-court');
    expect(directory.authenticate('Bearer a-long-enough-court-tokeN')).toBeUndefined();
    expect(directory.authenticate('Basic a-long-enough-court-token')).toBeUndefined();
    expect(directory.authenticate(undefined)).toBeUndefined();
    expect(directory.authenticate(`Bearer ${tokenHash('a-long-enough-court-token')}`)).toBeUndefined(); // the hash is not the token
  });

  it('refuses a token file that names an unknown requester or is not the expected JSON', () => {
    expect(() => createRequesterDirectory(requesters, JSON.stringify({ version: 1, tokens: { nobody: tokenHash('x') } }))).toThrow(
      /not in the requesters file: nobody/,
    );
    expect(() => createRequesterDirectory(requesters, 'not json')).toThrow(/not JSON/);
    expect(() => createRequesterDirectory(requesters, JSON.stringify({ version: 1, tokens: { 'high-court': 'abc' } }))).toThrow(/hex SHA-256/);
  });

  it('scripts/setup-secrets.ts issues a token once (stdout), keeps only its hash, and revokes it', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'lethe-requesters-')), 'secrets');
    try {
      const run = (...args: string[]) =>
        execFileSync(process.execPath, [join(ROOT, 'scripts/setup-secrets.ts'), '--dir', dir, ...args], {
          cwd: ROOT,
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'pipe'],
        });
      run();
      const empty = readFileSync(join(dir, 'api-requester-tokens'), 'utf8');
      expect(createRequesterDirectory(requesters, empty).authenticate('Bearer anything-at-all-here')).toBeUndefined();
      const token = run('--issue-token', 'hk-police-force').trim();
      expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const file = readFileSync(join(dir, 'api-requester-tokens'), 'utf8');
      expect(file).not.toContain(token);
      expect(createRequesterDirectory(requesters, file).authenticate(`Bearer ${token}`)?.type).toBe('police');
      run('--revoke-token', 'hk-police-force');
      expect(createRequesterDirectory(requesters, readFileSync(join(dir, 'api-requester-tokens'), 'utf8')).authenticate(`Bearer ${token}`)).toBeUndefined();
    } finally {
      rmSync(join(dir, '..'), { recursive: true, force: true });
    }
  });
});
