import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../src/canonical-json.ts';

describe('canonical JSON', () => {
  it('sorts keys at every level and writes no whitespace', () => {
    expect(canonicalJson({ b: 1, a: { d: [true, null, 'x'], c: 'y' } })).toBe('{"a":{"c":"y","d":[true,null,"x"]},"b":1}');
  });

  it('gives the same text whatever order the keys were inserted in', () => {
    expect(canonicalJson({ seq: 1, prev: 'p', data: { z: 1, a: 2 } })).toBe(canonicalJson({ data: { a: 2, z: 1 }, prev: 'p', seq: 1 }));
  });

  it('sorts keys by UTF-16 code units, as RFC 8785 §3.2.3 does in its example', () => {
    const keys = ['\u20ac', '\r', '\ufb33', '1', '\ud83d\ude00', '\u0080', '\u00f6'];
    const text = canonicalJson(Object.fromEntries(keys.map((k, i) => [k, i])));
    expect(text).toBe('{"\\r":1,"1":3,"\u0080":5,"\u00f6":6,"\u20ac":0,"\ud83d\ude00":4,"\ufb33":2}');
  });

  it('writes numbers the ECMAScript way RFC 8785 prescribes', () => {
    expect(canonicalJson([1e21, 1e-7, 0.000001, -0, 1.5, 333333333.3333333, 9007199254740991])).toBe(
      '[1e+21,1e-7,0.000001,0,1.5,333333333.3333333,9007199254740991]',
    );
  });

  it('refuses what has no canonical form instead of writing it some way', () => {
    expect(() => canonicalJson({ a: Number.NaN })).toThrow(/\$\.a: NaN has no JSON form/);
    expect(() => canonicalJson({ a: Infinity })).toThrow(/no JSON form/);
    expect(() => canonicalJson({ a: undefined })).toThrow(/undefined has no canonical JSON form/);
    expect(() => canonicalJson({ a: new Date(0) })).toThrow(/non-plain object/);
    expect(() => canonicalJson('\ud800')).toThrow(/lone surrogate/);
  });
});
