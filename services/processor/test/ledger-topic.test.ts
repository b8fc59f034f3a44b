// The release ledger's follower and writer (ledger-topic.ts) over a fake of kafkajs: it follows
// the topic from its start without committing, folds the claims in offset order (an unreadable
// record is passed over, not fatal), answers a claim only once the topic is read up to it — with
// every earlier claim, also another releaser's, taken into account — fails closed when the topic
// is not read in time, and stops. (On a real broker: test/privacy/p9-ledger-reruns.test.ts.)
import { Writable } from 'node:stream';
import type { Admin, Consumer, Kafka, Producer } from '@lethe/kafka';
import { createLogger } from '@lethe/observability';
import { noiseKeyFingerprint, type ReleaseClaim } from '@lethe/privacy';
import { describe, expect, it } from 'vitest';
import { createLedgerTopic } from '../src/ledger-topic.ts';

const TOPIC = 'lethe.ledger.v1';
const T0 = Date.UTC(2026, 11, 6, 8, 0);
/** Fingerprints of three noise keys (32 hex digits, as the topic's schema wants). */
const [A, B, MINE] = ['a', 'b', 'mine'].map((k) => noiseKeyFingerprint(Buffer.from(k))) as [string, string, string];
type EachMessage = NonNullable<NonNullable<Parameters<Consumer['run']>[0]>['eachMessage']>;
const claimOf = (fingerprint: string, upTo: number): ReleaseClaim => ({ fingerprint, at: T0, releasedUpTo: { 'sightings:wifi': upTo }, ledger: [] });

/** The topic as a list of values; the follower is handed them when the test says. */
function setup({ high = 0, timeoutMs = 5000 } = {}) {
  const steps: string[] = [];
  const topic: string[] = [];
  let eachMessage: EachMessage | undefined;
  let delivered = 0;
  const consumer = {
    connect: async () => void steps.push('connect'),
    subscribe: async ({ topics, fromBeginning }: { topics: string[]; fromBeginning: boolean }) =>
      void steps.push(`subscribe ${topics.join(',')} fromBeginning=${fromBeginning}`),
    run: async (config: { autoCommit: boolean; eachMessage: typeof eachMessage }) => {
      steps.push(`run autoCommit=${config.autoCommit}`);
      eachMessage = config.eachMessage;
    },
    disconnect: async () => void steps.push('disconnect'),
  };
  const producer = {
    send: async ({ topic: t, acks, messages }: { topic: string; acks: number; messages: Array<{ value: string }> }) => {
      steps.push(`send ${t} acks=${acks}`);
      topic.push(messages[0]!.value);
      return [{ topicName: t, partition: 0, errorCode: 0, baseOffset: String(topic.length - 1) }];
    },
  };
  let logs = '';
  const ledger = createLedgerTopic({
    kafka: { consumer: () => consumer } as unknown as Pick<Kafka, 'consumer'>,
    producer: producer as unknown as Pick<Producer, 'send'>,
    admin: { fetchTopicOffsets: async () => [{ partition: 0, offset: String(high), low: '0', high: String(high) }] } as unknown as Pick<
      Admin,
      'fetchTopicOffsets'
    >,
    topic: TOPIC,
    groupPrefix: 'lethe-processor-releaser-ledger',
    logger: createLogger({ service: 'test', level: 'warn', destination: new Writable({ write: (chunk: Buffer, _e, cb) => void ((logs += chunk), cb()) }) }),
    timeoutMs,
  });
  /** Writes a record as another releaser would (or anything else). */
  const write = (value: string) => void topic.push(value);
  /** Hands the follower the records written and not yet read, in order. */
  async function follow(): Promise<void> {
    for (; delivered < topic.length; delivered++) {
      await eachMessage!({
        topic: TOPIC,
        partition: 0,
        message: { offset: String(delivered), value: Buffer.from(topic[delivered]!) },
      } as unknown as Parameters<EachMessage>[0]);
    }
  }
  /** Whether a promise has settled by the end of this turn of the event loop. */
  const settled = async (p: Promise<unknown>) => {
    let done = false;
    void p.then(
      () => (done = true),
      () => (done = true),
    );
    await new Promise((r) => setImmediate(r));
    return done;
  };
  return { ledger, steps, write, follow, settled, logs: () => logs };
}

describe('the release ledger topic', () => {
  it('follows the topic from its start in a group of its own, never committing', async () => {
    const t = setup();
    await t.ledger.start();
    expect(t.steps).toEqual(['connect', `subscribe ${TOPIC} fromBeginning=true`, 'run autoCommit=false']);
  });

  it('catches up only once every claim written before has been read, folding them in order', async () => {
    const t = setup({ high: 2 });
    await t.ledger.start();
    t.write(JSON.stringify({ v: 1, ...claimOf(A, T0 + 60_000) }));
    t.write(JSON.stringify({ v: 1, ...claimOf(B, T0 + 120_000) }));
    const caughtUp = t.ledger.catchUp();
    expect(await t.settled(caughtUp)).toBe(false);
    await t.follow();
    await caughtUp;
    expect(t.ledger.log.position()).toBe(2n);
    expect(t.ledger.log.series()).toEqual({ 'sightings:wifi': { upTo: T0 + 120_000, fingerprint: B, since: T0 + 60_000 } });
  });

  it('passes over a record that is not a claim, and still reads past it', async () => {
    const t = setup({ high: 2 });
    await t.ledger.start();
    t.write('not json');
    t.write(JSON.stringify({ v: 1, fingerprint: A }));
    await t.follow();
    await t.ledger.catchUp();
    expect(t.ledger.log.position()).toBe(2n);
    expect(t.ledger.log.series()).toEqual({});
    expect(t.logs()).toContain('ignored an unreadable record on the release ledger');
    expect(t.logs()).toContain('ignored an invalid record on the release ledger');
  });

  it('sends a claim with acks from every replica and answers it only once read back, after every earlier claim', async () => {
    const t = setup();
    await t.ledger.start();
    // Another releaser, under another key, claimed the first window just before.
    t.write(JSON.stringify({ v: 1, ...claimOf(A, T0 + 60_000) }));
    const verdict = t.ledger.claim(claimOf(MINE, T0 + 180_000));
    await new Promise((r) => setImmediate(r));
    expect(t.steps.at(-1)).toBe(`send ${TOPIC} acks=-1`);
    expect(await t.settled(verdict)).toBe(false);
    await t.follow();
    // Windows ending after T0 + 60 s are this claim's to send; the first is the other's.
    expect(await verdict).toEqual({ 'sightings:wifi': T0 + 60_000 });
  });

  it('fails closed: a claim not read back in time is an error, so nothing is released', async () => {
    const t = setup({ timeoutMs: 20 });
    await t.ledger.start();
    await expect(t.ledger.claim(claimOf(MINE, T0 + 60_000))).rejects.toThrow(/was not read up to offset 1 within 20 ms \(a claim\); releasing nothing/);
  });

  it('on stop, lets whoever waits go and disconnects the follower', async () => {
    const t = setup({ high: 1 });
    await t.ledger.start();
    const caughtUp = t.ledger.catchUp();
    await new Promise((r) => setImmediate(r));
    await t.ledger.stop();
    await caughtUp;
    expect(t.steps.at(-1)).toBe('disconnect');
  });
});
