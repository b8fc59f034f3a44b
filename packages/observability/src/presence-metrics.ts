// Metrics of things that move with people's presence: identifiers pseudonymized, sightings read,
// pseudonyms held, HMACs computed. Exact, such a figure is an exact count of the people about —
// one phone at night turns a 0 into a 1 — and it reaches everyone who can see Prometheus or
// Grafana and stays in Prometheus's storage for weeks, around k, the noise and the raw-data TTL
// (P9). So it is counted exactly in the process and exported only in whole blocks of PRESENCE_BLOCK:
// one person more changes an exported value only when the true count sits on the last step before
// a block boundary, which for a count not known to within a block is 1 chance in PRESENCE_BLOCK
// per scrape. Operators still see the load (thousands per block, ample for rates and alerts);
// nobody sees the people. Counts of readings, which move with devices rather than people, stay exact.
import { Counter, Gauge, type CounterConfiguration, type GaugeConfiguration } from 'prom-client';

/** Export granularity of presence-moving figures. */
export const PRESENCE_BLOCK = 1000;

/** A presence-moving figure as it may be exported: rounded down to a whole block. */
export const floorToBlock = (n: number, block = PRESENCE_BLOCK) => Math.floor(n / block) * block;

export interface PresenceCounterChild {
  inc(n?: number): void;
}

export interface PresenceCounter {
  readonly metric: Counter;
  labels(...values: string[]): PresenceCounterChild;
  inc(n?: number): void;
}

/**
 * A counter that exports whole blocks of its exact count, per label set. `blocked` says which
 * label sets move with presence (default: all); the others are exported exactly.
 */
export function presenceCounter<T extends string>(
  config: CounterConfiguration<T>,
  blocked: (labels: readonly string[]) => boolean = () => true,
  block = PRESENCE_BLOCK,
): PresenceCounter {
  const metric = new Counter(config) as unknown as Counter;
  const exact = new Map<string, { n: number; exported: number }>();
  const labels = (...values: string[]): PresenceCounterChild => {
    const child = values.length === 0 ? metric : metric.labels(...values);
    if (!blocked(values)) return child;
    const key = JSON.stringify(values);
    return {
      inc(n = 1) {
        const c = exact.get(key) ?? { n: 0, exported: 0 };
        c.n += n;
        const due = floorToBlock(c.n, block) - c.exported;
        c.exported += due;
        exact.set(key, c);
        // Whether a series exists is a figure too: a labelled series appears with its first block,
        // or when the caller makes it at start with inc(0), never with its first person.
        if (due > 0 || n === 0) child.inc(due);
      },
    };
  };
  return { metric, labels, inc: (n = 1) => labels().inc(n) };
}

export interface PresenceGauge {
  readonly metric: Gauge;
  set(value: number): void;
}

/** A gauge that exports its value rounded down to a whole block. */
export function presenceGauge<T extends string>(config: GaugeConfiguration<T>, block = PRESENCE_BLOCK): PresenceGauge {
  const metric = new Gauge(config) as unknown as Gauge;
  return { metric, set: (value) => metric.set(floorToBlock(value, block)) };
}
