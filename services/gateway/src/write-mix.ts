// The write mix of P9 (packages/privacy/src/write-mix.ts says why): records of readings taken in
// the first slot of an epoch wait here, unacknowledged, until the slot's end, and are then
// written in one send, shuffled. Readings outside a mix are written at once — but a reading taken
// at or after a mix's end waits until that mix is written, even when it arrives before the mix is
// due (a device clock ahead, a timer late): a record with a later event time must not reach the
// processor first, or it could close the window the held records belong to.
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
  /** Its send has started: nothing joins it any more. */
  sending: boolean;
  /** Settles once its send has (whatever the outcome): what later readings wait for. */
  written: Promise<void>;
  markWritten: () => void;
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
  /** Mixes held or being written, by their end, until their send has settled. */
  const mixes = new Map<number, Mix>();
  /** Ends of mixes written early (full): the rest of their slot is written as it comes. */
  const full = new Set<number>();

  function open(end: number): Mix {
    let markWritten = () => undefined as void;
    const written = new Promise<void>((resolve) => (markWritten = resolve));
    const mix: Mix = { records: [], waiters: [], timer: setTimeout(() => write(end), end - now()), sending: false, written, markWritten };
    mixes.set(end, mix);
    return mix;
  }

  function write(end: number): void {
    const mix = mixes.get(end);
    if (!mix || mix.sending) return;
    mix.sending = true;
    clearTimeout(mix.timer);
    // Fisher–Yates with a cryptographic source: the order must not be predictable from anything.
    const records = mix.records;
    for (let i = records.length - 1; i > 0; i--) {
      const j = randomInt(i + 1);
      [records[i], records[j]] = [records[j]!, records[i]!];
    }
    send(records)
      .then(
        () => mix.waiters.forEach((w) => w.resolve()),
        (err: unknown) => mix.waiters.forEach((w) => w.reject(err)),
      )
      .finally(() => {
        mixes.delete(end);
        mix.markWritten();
      });
  }

  return {
    async send(records, ts) {
      for (const e of full) if (e <= now()) full.delete(e);
      const end = ts === undefined ? undefined : mixEnd(policy, ts);
      const mix = end === undefined ? undefined : mixes.get(end);
      if (end !== undefined && !full.has(end) && (mix ? !mix.sending : end > now())) {
        const joined = mix ?? open(end);
        joined.records.push(...records);
        const acknowledged = new Promise<void>((resolve, reject) => joined.waiters.push({ resolve, reject }));
        if (joined.waiters.length >= maxHeld) {
          full.add(end);
          overflowed();
          write(end);
        }
        return acknowledged;
      }
      // Written now, after every mix of a slot that ended by the reading's time.
      const earlier = ts === undefined ? [] : [...mixes].filter(([e]) => e <= ts).map(([, m]) => m.written);
      if (earlier.length > 0) await Promise.all(earlier);
      return send(records);
    },
    held: () => [...mixes.values()].reduce((n, m) => n + (m.sending ? 0 : m.waiters.length), 0),
    stop() {
      for (const [end, mix] of mixes) {
        if (mix.sending) continue;
        clearTimeout(mix.timer);
        mix.waiters.forEach((w) => w.reject(new Error('the gateway stopped while the reading was held in the write mix; Mosquitto delivers it again')));
        mixes.delete(end);
        mix.markWritten();
      }
    },
  };
}
