// The Kafka topic configs that docs/asyncapi.yaml states are the ones the services create from
// the shipped privacy policy (topicSpecs), so the published retention cannot drift from the
// enforced one. This lives here, not in packages/schemas, because @lethe/privacy depends on
// @lethe/schemas.
import { readFileSync } from 'node:fs';
import { DEFAULT_POLICY_PATH, loadPolicy, topicSpecs } from '@lethe/privacy';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const ASYNCAPI_PATH = new URL('../../docs/asyncapi.yaml', import.meta.url).pathname;

interface KafkaChannel {
  address: string;
  bindings?: { kafka?: { topicConfiguration?: Record<string, unknown> } };
}

describe('docs/asyncapi.yaml', () => {
  it('states the Kafka topic configs the services derive from seeds/policy.yaml', () => {
    const channels = Object.values((parse(readFileSync(ASYNCAPI_PATH, 'utf8')) as { channels: Record<string, KafkaChannel> }).channels);
    for (const spec of topicSpecs(loadPolicy(DEFAULT_POLICY_PATH))) {
      const stated = channels.find((c) => c.address === spec.topic)?.bindings?.kafka?.topicConfiguration;
      expect(stated, `no Kafka binding with topicConfiguration for ${spec.topic}`).toBeDefined();
      // The binding spells cleanup.policy as a list and numbers as numbers; Kafka takes strings.
      const normalized = Object.fromEntries(Object.entries(stated!).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : String(v)]));
      expect(normalized, `topic configs of ${spec.topic} differ: update docs/asyncapi.yaml`).toEqual(spec.configs);
    }
  });
});
