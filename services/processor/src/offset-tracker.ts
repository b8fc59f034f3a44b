// Which offsets are safe to commit. A record may be committed only once what it went into has
// been emitted downstream; until then a crash must replay it. So per partition we remember, for
// each open hold (stage 1: a window or epoch of the partition; the releaser: a window of a
// series), the smallest offset that contributed to it, and commit up to the smallest of those
// (or past everything seen when nothing holds the partition back).
export interface TopicPartitionOffset {
  topic: string;
  partition: number;
  offset: string;
}

/** What a record is held by: a series (stage 1 uses '') and the end of its window. */
export interface Hold {
  topic: string;
  partition: number;
  series: string;
}

interface HeldWindow {
  series: string;
  end: number;
  min: bigint;
}

export class OffsetTracker {
  /** `${topic}|${partition}` → `${series}|${end}` → smallest offset held. */
  readonly #holds = new Map<string, Map<string, HeldWindow>>();
  /** `${topic}|${partition}` → next offset after the last processed record. */
  readonly #next = new Map<string, bigint>();
  /** Last committed offset per partition, to skip commits that would change nothing. */
  readonly #committed = new Map<string, bigint>();

  /** Notes a processed record; `windowEnd` is the end of the window it is held by, if any. */
  processed(topic: string, partition: number, offset: string, windowEnd?: number, series = ''): void {
    const tp = `${topic}|${partition}`;
    const o = BigInt(offset);
    if (o + 1n > (this.#next.get(tp) ?? 0n)) this.#next.set(tp, o + 1n);
    if (windowEnd === undefined) return;
    let holds = this.#holds.get(tp);
    if (!holds) this.#holds.set(tp, (holds = new Map()));
    const key = `${series}|${windowEnd}`;
    const held = holds.get(key);
    if (held === undefined || o < held.min) holds.set(key, { series, end: windowEnd, min: o });
  }

  /** A partition's committed position, known before any of its records is processed. */
  startAt(topic: string, partition: number, offset: string): void {
    const tp = `${topic}|${partition}`;
    const o = BigInt(offset);
    if (o > (this.#next.get(tp) ?? -1n)) this.#next.set(tp, o);
    this.#committed.set(tp, o);
  }

  /**
   * Releases holds whose window ended by `closedUpTo` (a time, or one per hold) and returns the
   * offsets that may now be committed; with `unchanged`, also those that did not move (to update
   * their metadata).
   */
  committable(closedUpTo: number | ((hold: Hold) => number), { unchanged = false }: { unchanged?: boolean } = {}): TopicPartitionOffset[] {
    const out: TopicPartitionOffset[] = [];
    for (const [tp, next] of this.#next) {
      const [topic, p] = tp.split('|') as [string, string];
      const partition = Number(p);
      const holds = this.#holds.get(tp);
      let offset = next;
      if (holds) {
        for (const [key, h] of holds) {
          const upTo = typeof closedUpTo === 'number' ? closedUpTo : closedUpTo({ topic, partition, series: h.series });
          if (h.end <= upTo) holds.delete(key);
          else if (h.min < offset) offset = h.min;
        }
      }
      if (!unchanged && this.#committed.get(tp) === offset) continue;
      out.push({ topic, partition, offset: offset.toString() });
    }
    return out;
  }

  markCommitted(offsets: readonly TopicPartitionOffset[]): void {
    for (const o of offsets) this.#committed.set(`${o.topic}|${o.partition}`, BigInt(o.offset));
  }

  /** Forgets partitions this instance no longer owns after a rebalance. */
  reset(): void {
    this.#holds.clear();
    this.#next.clear();
    this.#committed.clear();
  }
}
