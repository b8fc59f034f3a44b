// The release ledger on Kafka (lethe.ledger.v1): the releaser's claims are written here before
// its aggregates are sent, and read by a follower that every releaser runs, whatever its
// consumer group or noise key — the pure logic, and why, is in
// packages/privacy/src/release-claims.ts.
//
// The follower is a consumer in a group of its own (a fresh name per process, under the
// processor's group prefix, never committed): it reads the topic from its start and keeps
// following it, so a claim's verdict takes every earlier claim into account, including those
// of a releaser running at the same time under another consumer group.
import { randomUUID } from 'node:crypto';
import type { Admin, Consumer, Kafka, Producer } from '@lethe/kafka';
import { CONSUMER_TIMEOUTS, retryKafka, subscribeRetrying } from '@lethe/kafka';
import type { Logger } from '@lethe/observability';
import { createClaimLog, type ClaimLog, type ClaimVerdict, type ReleaseClaim } from '@lethe/privacy';
import { ReleaseClaimRecordSchema } from '@lethe/schemas';

export interface LedgerTopicOptions {
  kafka: Pick<Kafka, 'consumer'>;
  /** An idempotent producer; claims are sent with acks=all. */
  producer: Pick<Producer, 'send'>;
  admin: Pick<Admin, 'fetchTopicOffsets'>;
  topic: string;
  /** Prefix of the follower's consumer group (a unique suffix is added). */
  groupPrefix: string;
  logger: Logger;
  /** How long reading up to a position may take before the releaser gives up (fails closed). */
  timeoutMs?: number;
}

export interface LedgerTopic {
  readonly log: ClaimLog;
  /** The follower, for the crash handler. */
  readonly consumer: Consumer;
  /** Joins the topic and starts following it from its start. */
  start(): Promise<void>;
  /** Returns once every claim written before the call has been read. */
  catchUp(): Promise<void>;
  /** Writes a claim and returns its verdict once the topic has been read up to it. */
  claim(claim: ReleaseClaim): Promise<ClaimVerdict>;
  stop(): Promise<void>;
}

const NO_CLAIM: ReleaseClaim = { fingerprint: '', at: 0, releasedUpTo: {}, ledger: [] };

export function createLedgerTopic({ kafka, producer, admin, topic, groupPrefix, logger, timeoutMs = 120_000 }: LedgerTopicOptions): LedgerTopic {
  const log = createClaimLog();
  const consumer = kafka.consumer({ groupId: `${groupPrefix}-${randomUUID()}`, allowAutoTopicCreation: false, maxWaitTimeInMs: 100, ...CONSUMER_TIMEOUTS });
  const waiters = new Set<{ until: bigint; resolve: () => void }>();

  function wake(): void {
    for (const w of waiters) {
      if (log.position() >= w.until) {
        waiters.delete(w);
        w.resolve();
      }
    }
  }

  /** Resolves once the claims before `until` are folded; rejects after the timeout. */
  function readUpTo(until: bigint, what: string): Promise<void> {
    if (log.position() >= until) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        until,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        reject(new Error(`the release ledger ${topic} was not read up to offset ${until} within ${timeoutMs} ms (${what}); releasing nothing`));
      }, timeoutMs);
      waiters.add(waiter);
    });
  }

  return {
    log,
    consumer,
    async start() {
      await consumer.connect();
      await subscribeRetrying(consumer, { topics: [topic], fromBeginning: true }, { logger });
      await consumer.run({
        autoCommit: false,
        eachMessage: async ({ message }) => {
          const offset = BigInt(message.offset);
          let claim = NO_CLAIM;
          try {
            const parsed = ReleaseClaimRecordSchema.safeParse(JSON.parse(message.value?.toString('utf8') ?? ''));
            if (parsed.success) claim = parsed.data;
            else logger.warn({ offset: message.offset }, 'ignored an invalid record on the release ledger');
          } catch {
            logger.warn({ offset: message.offset }, 'ignored an unreadable record on the release ledger');
          }
          // Offsets only grow within a run; after a rebalance of this one-member group the fetch resumes where it was.
          if (offset >= log.position()) log.apply(offset, claim);
          wake();
        },
      });
    },
    async catchUp() {
      const [end] = await retryKafka(() => admin.fetchTopicOffsets(topic), { what: 'reading the release ledger end', logger });
      await readUpTo(BigInt(end?.high ?? '0'), 'at start');
    },
    async claim(claim) {
      const value = JSON.stringify({ v: 1, ...claim });
      const [meta] = await producer.send({ topic, acks: -1, messages: [{ key: claim.fingerprint, value }] });
      if (meta?.baseOffset === undefined) throw new Error(`the broker returned no offset for the claim on ${topic}`);
      const offset = BigInt(meta.baseOffset);
      await readUpTo(offset + 1n, 'a claim');
      const verdict = log.verdict(offset);
      if (!verdict) throw new Error(`the verdict of the claim at ${topic}@${offset} is no longer known`);
      return verdict;
    },
    async stop() {
      for (const w of waiters) w.resolve();
      waiters.clear();
      await consumer.disconnect();
    },
  };
}
