// Starting and stopping the gateway the way every stage needs it: a fixed client-id prefix and
// share group of the bench's own (so its persistent MQTT sessions are known and can be wiped
// when it stops, instead of queueing a share of every later stage's readings).
import type { BenchContext } from './context.ts';
import { startService, wipeMqttSessions, type Service } from './infra.ts';
import { counter } from '../test/support/prom-text.ts';

const CLIENT_ID = 'bench-gw';
/** Sessions wiped: more than any MQTT_CONNECTIONS the bench is run with. */
const MAX_CONNECTIONS = 64;

export function gatewayConnections(ctx: BenchContext): number {
  return Number(ctx.opts.gatewayEnv.MQTT_CONNECTIONS ?? 4);
}

export async function wipeGatewaySessions(ctx: BenchContext): Promise<void> {
  const n = Math.max(MAX_CONNECTIONS, gatewayConnections(ctx));
  await wipeMqttSessions(
    ctx.servers,
    Array.from({ length: n }, (_, i) => `${CLIENT_ID}-${i}`),
  );
}

export async function startGateway(ctx: BenchContext, tag: string, topicPrefix: string): Promise<Service> {
  return startService(
    ctx.servers,
    'gateway',
    tag,
    {
      MQTT_CLIENT_ID: CLIENT_ID,
      MQTT_SHARE_GROUP: 'bench',
      KAFKA_TOPIC_PREFIX: topicPrefix,
      KAFKA_PARTITIONS: '3',
      POLICY_FILE: ctx.policyFile,
      ...ctx.opts.gatewayEnv,
    },
    ctx.opts.cpuProfDir,
  );
}

export async function stopGateway(ctx: BenchContext, gateway: Service): Promise<void> {
  await gateway.stop();
  await wipeGatewaySessions(ctx);
}

export interface GatewayCounts {
  received: number;
  forwarded: number;
  rejected: number;
  kafkaErrors: number;
}

export async function gatewayCounts(gateway: Service): Promise<GatewayCounts> {
  const text = await gateway.metrics();
  return {
    received: counter(text, 'lethe_gateway_messages_received_total'),
    forwarded: counter(text, 'lethe_gateway_messages_forwarded_total'),
    rejected: counter(text, 'lethe_gateway_messages_rejected_total'),
    kafkaErrors: counter(text, 'lethe_gateway_kafka_send_errors_total'),
  };
}
