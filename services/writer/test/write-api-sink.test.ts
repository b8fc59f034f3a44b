import type { Point, WriteApi } from '@influxdata/influxdb-client';
import { describe, expect, it } from 'vitest';
import { writeApiSink } from '../src/writer.ts';

function fakeWriteApi(flush: () => Promise<void>, written: Point[][]): WriteApi {
  return { writePoints: (points: Point[]) => void written.push(points), flush } as unknown as WriteApi;
}

describe('the InfluxDB sink', () => {
  it('fails a write whose flush never settles, so the writer retries it instead of waiting for good', async () => {
    const written: Point[][] = [];
    const sink = writeApiSink(() => fakeWriteApi(() => new Promise(() => undefined), written), 50);
    await expect(sink.write([])).rejects.toThrow('InfluxDB did not answer a write within 50 ms');
  });

  it('uses a fresh WriteApi for every write, so an abandoned one cannot hold the next', async () => {
    const written: Point[][] = [];
    let created = 0;
    const sink = writeApiSink(() => {
      created++;
      return fakeWriteApi(async () => undefined, written);
    }, 50);
    await sink.write([]);
    await sink.write([]);
    expect(created).toBe(2);
    expect(written).toHaveLength(2);
  });
});

describe('the writer', () => {
  it('survives a commit Kafka refuses after a rebalance: the batch is written, left uncommitted, and read again', async () => {
    const { createWriter } = await import('../src/writer.ts');
    const { createWriterMetrics } = await import('../src/metrics.ts');
    const { createLogger, createMetricsRegistry } = await import('@lethe/observability');
    const metrics = createWriterMetrics(createMetricsRegistry('writer-test'));
    const writes: number[] = [];
    const writer = createWriter({
      sink: { write: async (points) => void writes.push(points.length) },
      commit: async () => {
        throw new Error('The coordinator is not aware of this member');
      },
      metrics,
      logger: createLogger({ service: 'test', level: 'silent' }),
    });
    const value = JSON.stringify({
      v: 1,
      measurement: 'lamppost',
      tags: { scope: 'district', district: 'eastern' },
      fields: { readings: 3 },
      windowStart: 0,
      windowEnd: 5000,
    });
    const batch = { topic: 't', partition: 0, messages: [{ offset: '7', value: Buffer.from(value) }], offsetLag: () => '0' };
    const payload = { batch, resolveOffset: () => undefined, heartbeat: async () => undefined, isRunning: () => true, isStale: () => false };
    await expect(writer.eachBatch(payload as never)).resolves.toBeUndefined();
    expect(writes).toEqual([1]);
    expect((await metrics.commitErrors.get()).values[0]?.value).toBe(1);
  });
});
