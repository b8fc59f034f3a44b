import { commaList, commonFields, loadConfig, positiveInt, topicPrefix } from '@lethe/config';
import { z } from 'zod';

const ProcessorConfigSchema = z.object({
  ...commonFields,
  KAFKA_BROKERS: commaList(),
  KAFKA_CLIENT_ID: z.string().default('lethe-processor'),
  /** Consumer group of stage 1 (windows per input partition → partials); instances sharing it share the input partitions. */
  KAFKA_GROUP_ID: z.string().default('lethe-processor'),
  /**
   * Consumer group of stage 2 (partials → aggregates): one member holds the single partials partition, the others stand by. Default: KAFKA_GROUP_ID + `-releaser`.
   * A new group does not start a new ε ledger: every releaser restores from the release ledger topic (lethe.ledger.v1), whatever its group.
   */
  KAFKA_RELEASER_GROUP_ID: z.string().min(1).optional(),
  /** Partitions of the readings and sightings topics, i.e. how many instances can share the work (default 3). Set the same value on every service. */
  KAFKA_PARTITIONS: positiveInt().optional(),
  /** Prefix of every topic name (readings, sightings, partials, aggregates…), for a pipeline that shares a Kafka cluster. */
  KAFKA_TOPIC_PREFIX: topicPrefix().default(''),
  /** Prefix of the input topics (readings, sightings) if it differs, e.g. a shadow processor reading production input. Default: KAFKA_TOPIC_PREFIX. */
  KAFKA_INPUT_TOPIC_PREFIX: topicPrefix().optional(),
  POLICY_FILE: z.string().optional(),
  /**
   * Secret key of the differential-privacy noise (hex, ≥ 32 bytes; usually NOISE_KEY_FILE).
   * Noise is derived from it per figure, so a replay releases the same values; keep it
   * stable across restarts and never publish it (with it, the noise could be subtracted).
   * Changing it does not re-release anything: windows claimed on the release ledger under
   * another key count as released (and a window claimed but not yet sent is lost).
   */
  NOISE_KEY: z
    .string()
    .trim()
    .regex(/^[0-9a-fA-F]{64,}$/, 'must be at least 64 hex characters (32 bytes); generate one with `pnpm secrets`')
    .transform((hex) => Buffer.from(hex, 'hex')),
  /** How long after its end a window waits for stragglers before it is closed and emitted. */
  WINDOW_GRACE_SECONDS: z.coerce.number().min(0).default(5),
  /**
   * How long windows wait when the input stops. Windows close `WINDOW_GRACE_SECONDS` behind the
   * newest record, so an outage upstream (gateway, Mosquitto, Kafka) shorter than this loses
   * nothing; after it, windows close by the clock and readings still held up arrive late (dropped,
   * counted as outcome="late"). It is also how late the last windows close when the data really
   * stops. Default: the policy's max lateness (60 s), past which the gateway drops sightings anyway.
   */
  WINDOW_MAX_WAIT_SECONDS: z.coerce.number().min(0).optional(),
  /**
   * Stage 1's fetches: the broker answers when this many bytes are waiting for the instance, or
   * after KAFKA_FETCH_MAX_WAIT_MS. kafkajs asks for 1 byte by default, so under load the processor
   * took many small fetches and paid a batch's fixed cost (decode, offsets, heartbeat) for a
   * handful of records; 64 KiB is some 200 readings with their sightings.
   */
  KAFKA_FETCH_MIN_BYTES: positiveInt().default(65_536),
  /** The longest a fetch waits for KAFKA_FETCH_MIN_BYTES: what a quiet input adds to a record's way through stage 1. */
  KAFKA_FETCH_MAX_WAIT_MS: positiveInt().default(100),
  /** How often open windows are checked for closing. */
  TICK_MS: z.coerce.number().int().positive().default(500),
});

export type ProcessorConfig = z.infer<typeof ProcessorConfigSchema>;

export function loadProcessorConfig(env: Record<string, string | undefined> = process.env): ProcessorConfig {
  return loadConfig('processor', ProcessorConfigSchema, env);
}
