// Child process for stage 3: the gateway's Kafka path alone. A kafkajs producer configured as
// the gateway's (idempotent, one request in flight, acks=all) behind @lethe/kafka's batching
// producer (the gateway's linger), fed one record per send() like the gateway feeds it one
// reading at a time, with `concurrency` sends outstanding.
import { createBatchingProducer, createKafka, PRODUCER_OPTIONS } from '@lethe/kafka';
import { createLogger } from '@lethe/observability';
import { Histogram, nowUs, type HistogramData } from './histogram.ts';

export interface KafkajsRun {
  brokers: string[];
  topic: string;
  records: number;
  value: string;
  keys: string[];
  concurrency: number;
  lingerMs: number;
}

export type ToProducer = { type: 'run'; run: KafkajsRun };
export type FromProducer =
  | { type: 'progress'; acked: number }
  | { type: 'done'; acked: number; seconds: number; latency: HistogramData; batches: number }
  | { type: 'error'; message: string };

const send = (m: FromProducer) => process.send!(m);

async function run(r: KafkajsRun): Promise<void> {
  // kafkajs warns about its partitioner change and the idempotent producer's retry limit on every start: nothing to act on here.
  const logger = createLogger({ service: 'bench-kafkajs', level: 'error' });
  const kafka = createKafka({ brokers: r.brokers, clientId: 'bench-kafkajs', logger });
  const producer = kafka.producer(PRODUCER_OPTIONS);
  await producer.connect();
  let batches = 0;
  const batching = createBatchingProducer({ producer, lingerMs: r.lingerMs, onBatch: () => batches++ });
  const latency = new Histogram();
  let issued = 0;
  let acked = 0;
  const progress = setInterval(() => send({ type: 'progress', acked }), 1000);
  const started = nowUs();
  const worker = async () => {
    while (issued < r.records) {
      const i = issued++;
      const t = nowUs();
      await batching.send([{ topic: r.topic, key: r.keys[i % r.keys.length]!, value: r.value }]);
      latency.record(nowUs() - t);
      acked++;
    }
  };
  await Promise.all(Array.from({ length: r.concurrency }, worker));
  const seconds = (nowUs() - started) / 1e6;
  clearInterval(progress);
  await producer.disconnect();
  send({ type: 'done', acked, seconds, latency: latency.toJSON(), batches });
}

process.on('message', (m: ToProducer) => {
  if (m.type === 'run') run(m.run).catch((err: unknown) => send({ type: 'error', message: (err as Error).message }));
});
process.on('disconnect', () => process.exit(0));
