// The write mix of P9 (packages/privacy/src/write-mix.ts says why): records of readings taken in
// the first slot of an epoch wait here, unacknowledged, until the slot's end, and are then
// written in one send, shuffled. Readings outside a mix are written at once — but never before a
// mix that is being written, so no record with a later event time overtakes the held ones.
// A mix holds at most `maxHeld` readings: they wait unacknowledged, within the in-flight limits of
// the gateway's connections and of Mosquitto (beyond them Mosquitto queues, and at its queue limit
// drops). A mix that is full is written at once, and the rest of its slot as it comes: the city
// has outgrown the gateway's connections, which `overflowed` tells the operator.
import { randomInt } from 'node:crypto';
import { mixEnd, type OutRecord, type Policy } from '@lethe/privacy';

export interface WriteMix {
  /** Resolves once Kafka has `records`: now, or after the end of the mix their reading (taken at `ts`) falls in. */
  send(records: OutRecord[], ts: number | undefined): Promise<void>;
  /** Readings held now (not yet written, not acknowledged). */
  held(): number;
  /** Gives up what is held: its readings stay unacknowledged, and Mosquitto delivers them again. */
  stop(): void;
}

interface Mix {
  records: OutRecord[];
  waiters: Array<{ resolve: () => void; reject: (err: unknown) => void }>;
  timer: NodeJS.Timeout;
}

export interface WriteMixOptions {
  policy: Policy;
  send: (records: OutRecord[]) => Promise<void>;
  maxHeld: number;
  /** Called when a mix is written early because it is full. */
  overflowed?: () => void;
  now?: () => number;
}

export function createWriteMix({ policy, send, maxHeld, overflowed = () => undefined, now = Date.now }: WriteMixOptions): WriteMix {
  const mixes = new Map<number, Mix>();
  /** Ends of mixes written early (full): the rest of their slot is written as it comes. */
  const full = new Set<number>();
  /** The send of the last mix, settled or not: later readings are written after it. */
  let lastMix: Promise<void> = Promise.resolve();

  function write(end: number): void {
    const mix = mixes.get(end)!;
    mixes.delete(end);
    clearTimeout(mix.timer);
    // Fisher–Yates with a cryptographic source: the order must not be predictable from anything.
    const records = mix.records;
    for (let i = records.length - 1; i > 0; i--) {
      const j = randomInt(i + 1);
      [records[i], records[j]] = [records[j]!, records[i]!];
    }
    const sent = send(records);
    lastMix = sent.catch(() => undefined);
    sent.then(
      () => mix.waiters.forEach((w) => w.resolve()),
      (err: unknown) => mix.waiters.forEach((w) => w.reject(err)),
    );
  }

  return {
    send(records, ts) {
      const end = ts === undefined ? undefined : mixEnd(policy, ts);
      for (const e of full) if (e <= now()) full.delete(e);
      if (end === undefined || full.has(end) || (end <= now() && !mixes.has(end))) return lastMix.then(() => send(records));
      let mix = mixes.get(end);
      if (!mix) {
        mix = { records: [], waiters: [], timer: setTimeout(() => write(end), end - now()) };
        mixes.set(end, mix);
      }
      mix.records.push(...records);
      const waiting = mix;
      const acknowledged = new Promise<void>((resolve, reject) => waiting.waiters.push({ resolve, reject }));
      if (mix.waiters.length >= maxHeld) {
        full.add(end);
        overflowed();
        write(end);
      }
      return acknowledged;
    },
    held: () => [...mixes.values()].reduce((n, m) => n + m.waiters.length, 0),
    stop() {
      for (const mix of mixes.values()) {
        clearTimeout(mix.timer);
        mix.waiters.forEach((w) => w.reject(new Error('the gateway stopped while the reading was held in the write mix; Mosquitto delivers it again')));
      }
      mixes.clear();
    },
  };
}
