import { describe, expect, it } from 'vitest';
import { AuditError } from '../src/errors.ts';
import { AUDIT_MAX_DATA_KEYS, checkAuditEvent, personalDataKind } from '../src/event-guard.ts';
import { event } from './fixtures.ts';

const withData = (data: Record<string, unknown>) => ({ ...event(0), data });

function refusal(input: unknown): AuditError {
  try {
    checkAuditEvent(input);
  } catch (err) {
    if (err instanceof AuditError) return err;
    throw err;
  }
  throw new Error('expected the event to be refused');
}

describe('the personal-data guard', () => {
  it('refuses a MAC address as a value, in any notation, alone or inside text', () => {
    for (const mac of ['02:00:5E:10:00:01', '02:00:5e:10:00:01', '02-00-5E-10-00-01', '0200.5e10.0001', 'probe from 02:00:5E:10:00:01 refused']) {
      const err = refusal(withData({ device: mac }));
      expect(err.code, mac).toBe('PERSONAL_DATA');
      expect(err.message).toMatch(/data\.device: the value looks like a MAC address/);
      expect(err.message, 'the message must not repeat the value').not.toContain(mac);
    }
  });

  it('refuses a licence plate as a value, and inside a list', () => {
    for (const plate of ['AB 1234', 'XX1234', 'K 9']) {
      expect(refusal(withData({ vehicle: plate })).code, plate).toBe('PERSONAL_DATA');
      expect(refusal(withData({ vehicles: ['ok', plate] })).message).toMatch(/data\.vehicles: the value looks like a licence plate/);
    }
  });

  it('refuses keys that look like a MAC address or a plate, without naming them', () => {
    const mac = refusal(withData({ kind: 'lamppost', '02:00:5E:10:00:01': true }));
    expect(mac.code).toBe('PERSONAL_DATA');
    expect(mac.message).toMatch(/data key #2: the key looks like a MAC address/);
    expect(mac.message).not.toContain('02:00');
    const plate = refusal(withData({ AB1234: 1 }));
    expect(plate.message).toMatch(/data key #1: the key looks like a licence plate/);
    expect(plate.message).not.toContain('AB1234');
  });

  it('lets through what audit events really hold: reason codes, kinds, ISO times, hashes, ids', () => {
    const data = {
      reason: 'OUT_OF_PURPOSE',
      code: 'EXPIRED',
      kind: 'traffic-light',
      epochStart: '2026-11-23T08:30:00.000Z',
      sha256: 'ab'.repeat(32),
      requestId: '3f1c2a9e-7b4d-4c1e-9a0b-2d5e6f708192',
      deviceCount: 108,
      source: 'lethe.audit.v1/0@1234',
    };
    expect(checkAuditEvent(withData(data)).data).toEqual(data);
    for (const text of Object.values(data)) if (typeof text === 'string') expect(personalDataKind(text), text).toBeUndefined();
  });
});

describe('the shape of an event', () => {
  it('refuses strings longer than 200 characters, nested values, too many keys', () => {
    expect(checkAuditEvent(withData({ note: 'x'.repeat(200) })).data.note).toHaveLength(200);
    const long = refusal(withData({ note: 'x'.repeat(201) }));
    expect(long.code).toBe('INVALID_EVENT');
    expect(long.message).toMatch(/data\.note: .*200/);
    expect(refusal(withData({ nested: { a: 1 } })).code).toBe('INVALID_EVENT');
    expect(refusal(withData({ list: [1, 2] })).code).toBe('INVALID_EVENT');
    const many = Object.fromEntries(Array.from({ length: AUDIT_MAX_DATA_KEYS + 1 }, (_, i) => [`k${i}`, i]));
    expect(refusal(withData(many)).message).toMatch(/33 keys, at most 32/);
  });

  it('refuses unknown types, bad actors and timestamps, non-identifier keys, extra fields', () => {
    expect(refusal({ ...event(0), type: 'key.copied' }).message).toMatch(/type:/);
    expect(refusal({ ...event(0), actor: 'Gateway 1' }).message).toMatch(/actor: must be a component name/);
    expect(refusal({ ...event(0), at: 1.5 }).message).toMatch(/at:/);
    expect(refusal(withData({ 'epoch start': 1 })).message).toMatch(/data key #1: /);
    expect(refusal({ ...event(0), seq: 3 }).message).toMatch(/seq/);
    expect(refusal(null).code).toBe('INVALID_EVENT');
  });
});
