// The patched kafkajs varints (patches/kafkajs@2.2.4.patch): written in place, and a number in
// the int32 range written as a varlong without Long objects. Each is compared with the zigzag
// LEB128 of the Kafka protocol computed here in BigInt, and a number's varlong with upstream's
// own Long path (a Long value still takes it), over the edges of every byte length and random
// values. The integration tests write and read every record through the same encoder.
import { createRequire } from 'node:module';
import { randomInt } from 'node:crypto';
import { describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
interface Encoder {
  writeVarInt(v: number): Encoder;
  writeVarLong(v: unknown): Encoder;
  readonly buffer: Buffer;
}
const Encoder = require('kafkajs/src/protocol/encoder.js') as (new () => Encoder) & { sizeOfVarInt(v: number): number; sizeOfVarLong(v: unknown): number };
const Long = require('kafkajs/src/utils/long.js') as { fromNumber(v: number): unknown };

/** The protocol's zigzag varint of a signed 64-bit value (unsigned LEB128 of (v << 1) ^ (v >> 63)). */
function expected(v: number): Buffer {
  let z = BigInt.asUintN(64, (BigInt(v) << 1n) ^ (BigInt(v) >> 63n));
  const bytes: number[] = [];
  while (z >= 0x80n) {
    bytes.push(Number(z & 0x7fn) | 0x80);
    z >>= 7n;
  }
  bytes.push(Number(z));
  return Buffer.from(bytes);
}

const INT32_EDGES = [0, 1, -1, 63, -64, 64, -65, 8191, -8192, 8192, 1048575, -1048576, 1048576, 134217727, -134217728, 134217728, 2 ** 31 - 1, -(2 ** 31)];

describe('the patched kafkajs varints', () => {
  it('writes every int32 as the protocol says, as a varint and as a varlong, in the size it announces', () => {
    const values = [...INT32_EDGES, ...Array.from({ length: 2000 }, () => randomInt(-(2 ** 31), 2 ** 31 - 1))];
    for (const v of values) {
      const varint = new Encoder().writeVarInt(v).buffer;
      const varlong = new Encoder().writeVarLong(v).buffer;
      expect(varint, `varint ${v}`).toEqual(expected(v));
      expect(varlong, `varlong ${v}`).toEqual(expected(v));
      expect(new Encoder().writeVarLong(Long.fromNumber(v)).buffer, `Long varlong ${v}`).toEqual(expected(v));
      expect(Encoder.sizeOfVarInt(v)).toBe(varint.length);
      expect(Encoder.sizeOfVarLong(v)).toBe(varlong.length);
    }
  });

  it('still writes numbers outside the int32 range as 64-bit varlongs', () => {
    for (const v of [2 ** 31, -(2 ** 31) - 1, 2 ** 40 + 7, -(2 ** 45), Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 1_733_500_000_000]) {
      expect(new Encoder().writeVarLong(v).buffer, `varlong ${v}`).toEqual(expected(v));
      expect(Encoder.sizeOfVarLong(v)).toBe(expected(v).length);
    }
  });

  it('writes varints one after another into a growing buffer', () => {
    const e = new Encoder();
    const values = Array.from({ length: 500 }, () => randomInt(-(2 ** 31), 2 ** 31 - 1));
    for (const v of values) e.writeVarInt(v);
    expect(e.buffer).toEqual(Buffer.concat(values.map(expected)));
  });
});
