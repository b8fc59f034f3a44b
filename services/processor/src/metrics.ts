import { Counter, Gauge, Histogram, presenceCounter, presenceGauge, type Registry } from '@lethe/observability';
import { TOPICS } from '@lethe/schemas';

export function createProcessorMetrics(registry: Registry) {
  return {
    // Sightings, and the people held, move with presence: exported in whole blocks (presence-metrics.ts, P9); readings exactly.
    records: presenceCounter(
      {
        name: 'lethe_processor_records_total',
        help: 'Records consumed, by topic and outcome (accepted, duplicate, late, expired, future, invalid); sightings in whole blocks of 1000',
        labelNames: ['topic', 'outcome'] as const,
        registers: [registry],
      },
      ([topic]) => topic!.endsWith(TOPICS.sightings),
    ),
    aggregates: new Counter({
      name: 'lethe_processor_aggregates_emitted_total',
      help: 'Anonymous aggregates emitted',
      labelNames: ['measurement'] as const,
      registers: [registry],
    }),
    openWindows: new Gauge({ name: 'lethe_processor_open_windows', help: 'Windows currently open', registers: [registry] }),
    pseudonymsHeld: presenceGauge({
      name: 'lethe_processor_pseudonyms_held',
      help: 'Pseudonyms held in memory (per-person state, dropped when its epoch ends), rounded down to a block of 1000',
      registers: [registry],
    }),
    sightingsHeld: presenceGauge({
      name: 'lethe_processor_sightings_held',
      help: 'Sightings held one by one, those of windows not summarized yet (older ones are kept only as per-person summaries), rounded down to a block of 1000',
      registers: [registry],
    }),
    releases: new Counter({
      name: 'lethe_processor_releases_total',
      help: 'Windows of person-derived streams released, by stream and ledger outcome (granted, replay, exhausted)',
      labelNames: ['stream', 'outcome'] as const,
      registers: [registry],
    }),
    figuresReleased: new Counter({
      name: 'lethe_processor_figures_released_total',
      help: 'Person-derived figures released (noised)',
      labelNames: ['stream'] as const,
      registers: [registry],
    }),
    // No counter of figures withheld: a withheld cell is a small group of people, so its count
    // moves with one person's presence (P9, docs/privacy.md).
    epsilonSpent: new Gauge({
      name: 'lethe_processor_epsilon_spent',
      help: 'Differential-privacy budget spent today (UTC) per stream',
      labelNames: ['stream'] as const,
      registers: [registry],
    }),
    epsilonBudget: new Gauge({
      name: 'lethe_processor_epsilon_budget',
      help: 'Differential-privacy budget per day per stream',
      labelNames: ['stream'] as const,
      registers: [registry],
    }),
    consumerLag: new Gauge({
      name: 'lethe_processor_consumer_lag_records',
      help: 'Records in a partition not yet read (high watermark minus the next offset), as of the last batch; sightings partitions in whole blocks of 1000; committed offsets trail further while windows are open',
      labelNames: ['topic', 'partition'] as const,
      registers: [registry],
    }),
    partialsEmitted: new Counter({
      name: 'lethe_processor_partials_emitted_total',
      help: 'Window partials stage 1 sent to the partials topic (one per series, window and input partition, empty ones included)',
      labelNames: ['series'] as const,
      registers: [registry],
    }),
    inputPartitions: new Gauge({
      name: 'lethe_processor_input_partitions',
      help: 'Input partitions this instance runs stage 1 for',
      labelNames: ['topic'] as const,
      registers: [registry],
    }),
    releaserActive: new Gauge({
      name: 'lethe_processor_releaser_active',
      help: '1 if this instance holds the partials partition and releases aggregates, 0 if it stands by',
      registers: [registry],
    }),
    partialsReceived: new Counter({
      name: 'lethe_processor_partials_received_total',
      help: 'Window partials the releaser read, by outcome (accepted, duplicate, replay, invalid)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    windowsReleased: new Counter({
      name: 'lethe_processor_windows_released_total',
      help: 'Windows the releaser merged and released, by series',
      labelNames: ['series'] as const,
      registers: [registry],
    }),
    windowsWithheld: new Counter({
      name: 'lethe_processor_windows_withheld_total',
      help: 'Windows released but not sent because the release ledger shows them claimed first under another noise key (a second releaser with another NOISE_KEY on the same input), by series',
      labelNames: ['series'] as const,
      registers: [registry],
    }),
    windowsDiscarded: new Counter({
      name: 'lethe_processor_windows_discarded_total',
      help: 'Windows dropped unreleased because a partition could never complete them (its partials were lost), by series',
      labelNames: ['series'] as const,
      registers: [registry],
    }),
    windowsPending: new Gauge({
      name: 'lethe_processor_windows_pending',
      help: 'Windows the releaser holds until every input partition has reported them',
      registers: [registry],
    }),
    releasedUpTo: new Gauge({
      name: 'lethe_processor_released_up_to_seconds',
      help: 'End of the last window released per series (Unix seconds)',
      labelNames: ['series'] as const,
      registers: [registry],
    }),
    rawTtl: new Gauge({
      name: 'lethe_processor_raw_ttl_seconds',
      help: "The policy's raw-data TTL: older records are dropped, and personal topics keep records this long",
      registers: [registry],
    }),
    closeLag: new Histogram({
      name: 'lethe_processor_window_emit_lag_seconds',
      help: 'From a window end to its aggregates being acknowledged by Kafka',
      buckets: [0.5, 1, 2, 5, 7.5, 10, 15, 30, 60],
      registers: [registry],
    }),
  };
}

export type ProcessorMetrics = ReturnType<typeof createProcessorMetrics>;
