import { Counter, Gauge, type Registry } from '@lethe/observability';

export function createKeyringMetrics(registry: Registry) {
  const requests = new Counter({
    name: 'lethe_keyring_requests_total',
    help: 'HMAC requests, by outcome (ok, epoch_unavailable, unauthorized, bad_request, too_large)',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  for (const outcome of ['ok', 'epoch_unavailable', 'unauthorized', 'bad_request', 'too_large']) requests.labels(outcome).inc(0);
  return {
    requests,
    messages: new Counter({ name: 'lethe_keyring_messages_total', help: 'Identifiers pseudonymized (HMACs computed)', registers: [registry] }),
    liveKeys: new Gauge({ name: 'lethe_keyring_live_keys', help: 'Pseudonym keys in memory now (one per device kind and live epoch); never the keys', registers: [registry] }),
    keysDestroyed: new Counter({ name: 'lethe_keyring_keys_destroyed_total', help: 'Pseudonym keys zeroed and dropped at the end of their epoch and grace period', registers: [registry] }),
  };
}

export type KeyringMetrics = ReturnType<typeof createKeyringMetrics>;
