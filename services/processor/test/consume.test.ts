// How both stages read Kafka (consume.ts), over a fake of the kafkajs consumer: every
// assignment reaches the runner, the first included; topics are read from their start; and
// kafkajs neither resolves nor commits anything on its own, so only the runner commits.
import type { Consumer, EachBatchPayload } from '@lethe/kafka';
import { describe, expect, it } from 'vitest';
import { startConsuming, type BatchRunner } from '../src/consume.ts';

type RunConfig = NonNullable<Parameters<Consumer['run']>[0]>;

function fakeConsumer() {
  const steps: string[] = [];
  const listeners = new Map<string, (event: { payload: { memberAssignment: Record<string, number[]> } }) => void>();
  let run: RunConfig | undefined;
  const consumer = {
    events: { GROUP_JOIN: 'consumer.group_join' },
    connect: async () => void steps.push('connect'),
    on: (event: string, listener: (event: { payload: { memberAssignment: Record<string, number[]> } }) => void) => {
      steps.push(`on ${event}`);
      listeners.set(event, listener);
    },
    subscribe: async ({ topics, fromBeginning }: { topics: string[]; fromBeginning: boolean }) =>
      void steps.push(`subscribe ${topics.join(',')} fromBeginning=${fromBeginning}`),
    run: async (config: RunConfig) => {
      steps.push('run');
      run = config;
      // kafkajs joins the group once running.
      listeners.get('consumer.group_join')?.({ payload: { memberAssignment: { 'lethe.readings.v1': [0, 2] } } });
    },
  };
  return { consumer: consumer as unknown as Pick<Consumer, 'connect' | 'on' | 'events' | 'subscribe' | 'run'>, steps, run: () => run! };
}

describe("the processor's consumers", () => {
  it('hand every assignment to the runner, the first included, and read the topics from their start', async () => {
    const { consumer, steps } = fakeConsumer();
    const assignments: Array<Record<string, number[]>> = [];
    const runner: BatchRunner = { eachBatch: async () => undefined, assigned: (a) => void assignments.push(a) };
    await startConsuming(consumer, ['lethe.readings.v1', 'lethe.sightings.v1'], runner);
    expect(steps).toEqual(['connect', 'on consumer.group_join', 'subscribe lethe.readings.v1,lethe.sightings.v1 fromBeginning=true', 'run']);
    expect(assignments).toEqual([{ 'lethe.readings.v1': [0, 2] }]);
  });

  it("leave every offset to the runner: kafkajs resolves and commits nothing on its own, and batches go to the runner's eachBatch", async () => {
    const { consumer, run } = fakeConsumer();
    const batches: EachBatchPayload[] = [];
    const runner: BatchRunner = { eachBatch: async (b) => void batches.push(b), assigned: () => undefined };
    await startConsuming(consumer, ['lethe.partials.v1'], runner, { partitionsConsumedConcurrently: 1 });
    expect(run()).toMatchObject({ autoCommit: false, eachBatchAutoResolve: false, partitionsConsumedConcurrently: 1 });
    await run().eachBatch!({ batch: { topic: 'lethe.partials.v1' } } as unknown as EachBatchPayload);
    expect(batches).toHaveLength(1);
  });
});
