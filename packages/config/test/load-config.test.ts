import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { commaList, ConfigError, loadConfig, port } from '../src/index.ts';

const schema = z.object({ BROKERS: commaList(), PASSWORD: z.string().min(8), PORT: port().default(9464) });

describe('loadConfig', () => {
  it('lists every problem at once and never echoes a value', () => {
    try {
      loadConfig('svc', schema, { PASSWORD: 'short-pw', PORT: 'ninety' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).problems).toEqual(['BROKERS: is required', expect.stringMatching(/^PORT: /)]);
      expect((err as Error).message).not.toContain('ninety');
    }
  });

  it('reads a secret from NAME_FILE, as Docker secrets are mounted', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'cfg-')), 'pw');
    writeFileSync(file, 'correct horse battery\n');
    expect(loadConfig('svc', schema, { BROKERS: 'a:1, b:2', PASSWORD_FILE: file })).toEqual({
      BROKERS: ['a:1', 'b:2'],
      PASSWORD: 'correct horse battery',
      PORT: 9464,
    });
  });

  it('refuses both NAME and NAME_FILE', () => {
    expect(() => loadConfig('svc', schema, { BROKERS: 'a', PASSWORD: 'x'.repeat(9), PASSWORD_FILE: '/nope' })).toThrow(/set either PASSWORD or PASSWORD_FILE/);
  });
});
