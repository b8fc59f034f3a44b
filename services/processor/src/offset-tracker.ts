// Which offsets are safe to commit. A record may be committed only once the window it went
// into has been emitted; until then a crash must replay it. So per partition we remember,
// for each open window, the smallest offset that contributed to it, and commit up to the
// smallest of those (or past everything seen when no window holds the partition back).
export interface TopicPartitionOffset {
  topic: string;
  partition: number;
  offset: string;
}

export class OffsetTracker {
  /** `${topic}|${partition}` → window end → smallest offset held by that window. */
  readonly #holds = new Map<string, Map<number, bigint>>();
  /** `${topic}|${partition}` → next offset after the last processed record. */
  readonly #next = new Map<string, bigint>();
  /** Last committed offset per partition, to skip commits that would change nothing. */
  readonly #committed = new Map<string, bigint>();

  /** Notes a processed record; `windowEnd` is the end of the window it is held by, if any. */
  processed(topic: string, partition: number, offset: string, windowEnd?: number): void {
    const tp = `${topic}|${partition}`;
    const o = BigInt(offset);
    if (o + 1n > (this.#next.get(tp) ?? 0n)) this.#next.set(tp, o + 1n);
    if (windowEnd === undefined) return;
    let holds = this.#holds.get(tp);
    if (!holds) this.#holds.set(tp, (holds = new Map()));
    const held = holds.get(windowEnd);
    if (held === undefined || o < held) holds.set(windowEnd, o);
  }

  /** Releases windows that ended by `closedUpTo` and returns the offsets that may now be committed. */
  committable(closedUpTo: number): TopicPartitionOffset[] {
    const out: TopicPartitionOffset[] = [];
    for (const [tp, next] of this.#next) {
      const holds = this.#holds.get(tp);
      let offset = next;
      if (holds) {
        for (const [end, min] of holds) {
          if (end <= closedUpTo) holds.delete(end);
          else if (min < offset) offset = min;
        }
      }
      if (this.#committed.get(tp) === offset) continue;
      const [topic, partition] = tp.split('|') as [string, string];
      out.push({ topic, partition: Number(partition), offset: offset.toString() });
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
