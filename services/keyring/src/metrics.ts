import type { KeyringBudgets } from '@lethe/privacy';
import { Counter, Gauge, presenceCounter, type Registry } from '@lethe/observability';
import { DEVICE_KINDS } from '@lethe/schemas';

/** Why a call was refused. None of these carries an identifier or a token; gateway ids are operators' names. */
export const REFUSAL_REASONS = ['unauthorized', 'rate_limited', 'batch_too_large', 'bad_request', 'too_large'] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

export function createKeyringMetrics(registry: Registry) {
  // A gateway asks only for readings that carry identifiers, so answered requests move with
  // presence: in whole blocks (presence-metrics.ts, P9). Refusals, the alarm, stay exact.
  const requests = presenceCounter(
    {
      name: 'lethe_keyring_requests_total',
      help: 'HMAC requests, by outcome (ok, epoch_unavailable, or a refusal reason); ok and epoch_unavailable in whole blocks of 1000',
      labelNames: ['outcome'] as const,
      registers: [registry],
    },
    ([outcome]) => outcome === 'ok' || outcome === 'epoch_unavailable',
  );
  for (const outcome of ['ok', 'epoch_unavailable', ...REFUSAL_REASONS]) requests.labels(outcome).inc(0);
  // The alarm: a refused call is either a misconfigured gateway or someone using the keyring as
  // a pseudonym oracle (no token, a revoked one, or a gateway's token used beyond its budget).
  const refused = new Counter({
    name: 'lethe_keyring_refused_total',
    help: 'HMAC calls refused, by reason (unauthorized, rate_limited, batch_too_large, bad_request, too_large); any increase deserves a look',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  for (const reason of REFUSAL_REASONS) refused.labels(reason).inc(0);
  return {
    requests,
    refused,
    messages: presenceCounter({
      name: 'lethe_keyring_messages_total',
      help: 'Identifiers pseudonymized (HMACs computed), by gateway and device kind, in whole blocks of 1000',
      labelNames: ['gateway', 'kind'] as const,
      registers: [registry],
    }),
    budget: new Gauge({
      name: 'lethe_keyring_budget_messages_per_second',
      help: 'HMAC messages per second each gateway may ask for, by device kind (derived from the fleet)',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    liveKeys: new Gauge({
      name: 'lethe_keyring_live_keys',
      help: 'Pseudonym keys in memory now (one per device kind and live epoch); never the keys',
      registers: [registry],
    }),
    peerRequests: new Counter({
      name: 'lethe_keyring_peer_requests_total',
      help: 'Ratchet hand-overs asked for by keyring peers, by outcome (ok, unauthorized, not_ready)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    keysDestroyed: new Counter({
      name: 'lethe_keyring_keys_destroyed_total',
      help: 'Pseudonym keys zeroed and dropped at the end of their epoch and grace period',
      registers: [registry],
    }),
  };
}

export type KeyringMetrics = ReturnType<typeof createKeyringMetrics>;

/** Publishes the budgets and starts every gateway's message counter at 0, so a rate() sees its first increase. */
export function initBudgetMetrics(metrics: KeyringMetrics, budgets: KeyringBudgets, gateways: readonly string[]): void {
  for (const kind of DEVICE_KINDS) {
    metrics.budget.labels(kind).set(budgets[kind].messagesPerSecond);
    for (const gateway of gateways) metrics.messages.labels(gateway, kind).inc(0);
  }
}
