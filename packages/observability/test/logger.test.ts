import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/logger.ts';

describe('the logger', () => {
  it('redacts identifier fields and masks MAC addresses in messages', () => {
    let out = '';
    const destination = new Writable({
      write(chunk, _enc, cb) {
        out += chunk.toString();
        cb();
      },
    });
    const logger = createLogger({ service: 't', destination });
    logger.info({ probe: { mac: '02:AA:BB:CC:DD:EE' }, plate: 'AB 1234' }, 'saw 02:aa:bb:cc:dd:ee');
    expect(out).not.toMatch(/02:AA:BB:CC:DD:EE|02:aa|AB 1234/i);
    expect(out).toContain('[REDACTED]');
    expect(out).toContain('[MAC]');
  });
});
