// The bench's settings, from environment variables (one zod schema, every problem listed at
// once, as for the services). Every duration and size has a default for a full run of about
// a quarter of an hour and a smaller one for BENCH_QUICK=1.
import { flag, loadConfig, positiveInt } from '@lethe/config';
import { z } from 'zod';
import { LOADGENS } from './publisher.ts';

export const STAGES = ['mosquitto', 'kafka-perf', 'kafkajs', 'gateway', 'processor', 'writer', 'pipeline'] as const;
export type Stage = (typeof STAGES)[number];

const optionalInt = () => positiveInt().optional();

const BenchSchema = z.object({
  /** Short durations and sizes, for iterating on the bench itself (the results say so). */
  BENCH_QUICK: flag().default(false),
  /** Stages to run, comma-separated (default all, in order); the pipeline needs BENCH_BASE_RATE without the stages it derives its rates from. */
  BENCH_STAGES: z
    .string()
    .transform((s) =>
      s
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.enum(STAGES)).min(1))
    .optional(),
  /** Seconds of max-rate publishing for the raw Mosquitto baseline (20; quick 8). */
  BENCH_MOSQUITTO_SECONDS: optionalInt(),
  /** Records for kafka-producer-perf-test and the kafkajs producer (400000; quick 100000). */
  BENCH_KAFKA_RECORDS: optionalInt(),
  /** Unacknowledged sends the kafkajs producer keeps going (2000 = the batching producer's batch limit). */
  BENCH_KAFKAJS_CONCURRENCY: positiveInt().default(2000),
  /** Seconds of max-rate publishing through the gateway alone (30; quick 10). Its output is the processor stage's input. */
  BENCH_GATEWAY_SECONDS: optionalInt(),
  /** Aggregate records pre-filled for the writer (100000; quick 20000). */
  BENCH_WRITER_POINTS: optionalInt(),
  /** Seconds of each measured step of the full pipeline (60; quick 15). */
  BENCH_STEP_SECONDS: optionalInt(),
  /** Seconds of publishing at a step's rate before it is measured (10; quick 5). */
  BENCH_WARMUP_SECONDS: z.coerce.number().int().min(0).optional(),
  /**
   * Fixed steps of the full pipeline, in percent of the base rate, instead of the search for the
   * maximum sustainable rate (unset: search; rate-search.ts).
   */
  BENCH_RATES: z
    .string()
    .transform((s) => s.split(',').map(Number))
    .pipe(z.array(z.number().positive().max(200)).min(1))
    .optional(),
  /** Trials of the search at most (8; quick 6). */
  BENCH_SEARCH_TRIALS: optionalInt(),
  /** Measured steps at the maximum the search found, for its median and spread (3; quick 1). */
  BENCH_REPEATS: optionalInt(),
  /** Seconds of a last step at half the maximum (50 % of the base rate with BENCH_RATES) over which RSS must stay flat (600, the 10-minute check; quick 20). */
  BENCH_SOAK_SECONDS: z.coerce.number().int().min(0).optional(),
  /** Readings/s that the search starts from half of (or BENCH_RATES apply to), instead of the slowest stage measured in this run. */
  BENCH_BASE_RATE: optionalInt(),
  /** Publishes ahead of the consumer allowed in the max-rate stages (Mosquitto's queue stays bounded). */
  BENCH_BACKLOG: positiveInt().default(5000),
  /** Window of every kind in the bench's policy, seconds (bench/policy.ts says why 10). */
  BENCH_WINDOW_SECONDS: positiveInt().default(10),
  /** Gateway MQTT_CONNECTIONS / KAFKA_LINGER_MS for every gateway the bench starts (unset: the gateway's defaults). */
  BENCH_GATEWAY_MQTT_CONNECTIONS: optionalInt(),
  BENCH_GATEWAY_KAFKA_LINGER_MS: z.coerce.number().int().min(0).optional(),
  /** Write a V8 CPU profile of every service the bench starts into this directory (node --cpu-prof), for finding bottlenecks. */
  BENCH_CPU_PROF_DIR: z.string().optional(),
  /** The publisher of every stage: mqttjs (mqtt.js in a Node process) or native (Go and paho.mqtt.golang, built on first use; needs Go ≥ 1.24). */
  BENCH_LOADGEN: z.enum(LOADGENS).default('mqttjs'),
  /** Where the results go (bench/results). */
  BENCH_OUT: z.string().optional(),
  /** Leave the servers running at the end even if this run started them. */
  BENCH_KEEP_SERVERS: flag().default(false),
});

export type BenchOptions = ReturnType<typeof loadBenchOptions>;

export function loadBenchOptions(env: Record<string, string | undefined> = process.env) {
  const c = loadConfig('bench', BenchSchema, env);
  const q = c.BENCH_QUICK;
  return {
    quick: q,
    stages: new Set<Stage>(c.BENCH_STAGES ?? STAGES),
    mosquittoSeconds: c.BENCH_MOSQUITTO_SECONDS ?? (q ? 8 : 20),
    kafkaRecords: c.BENCH_KAFKA_RECORDS ?? (q ? 100_000 : 400_000),
    kafkajsConcurrency: c.BENCH_KAFKAJS_CONCURRENCY,
    gatewaySeconds: c.BENCH_GATEWAY_SECONDS ?? (q ? 10 : 30),
    writerPoints: c.BENCH_WRITER_POINTS ?? (q ? 20_000 : 100_000),
    stepSeconds: c.BENCH_STEP_SECONDS ?? (q ? 15 : 60),
    warmupSeconds: c.BENCH_WARMUP_SECONDS ?? (q ? 5 : 10),
    ratePercents: c.BENCH_RATES,
    searchTrials: c.BENCH_SEARCH_TRIALS ?? (q ? 6 : 8),
    repeats: c.BENCH_REPEATS ?? (q ? 1 : 3),
    soakSeconds: c.BENCH_SOAK_SECONDS ?? (q ? 20 : 600),
    baseRate: c.BENCH_BASE_RATE,
    backlog: c.BENCH_BACKLOG,
    windowSeconds: c.BENCH_WINDOW_SECONDS,
    gatewayEnv: {
      ...(c.BENCH_GATEWAY_MQTT_CONNECTIONS === undefined ? {} : { MQTT_CONNECTIONS: String(c.BENCH_GATEWAY_MQTT_CONNECTIONS) }),
      ...(c.BENCH_GATEWAY_KAFKA_LINGER_MS === undefined ? {} : { KAFKA_LINGER_MS: String(c.BENCH_GATEWAY_KAFKA_LINGER_MS) }),
    } as Record<string, string>,
    loadgen: c.BENCH_LOADGEN,
    cpuProfDir: c.BENCH_CPU_PROF_DIR,
    out: c.BENCH_OUT,
    keepServers: c.BENCH_KEEP_SERVERS,
  };
}
