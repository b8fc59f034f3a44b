// Keyring entry point: the shared pseudonym keys of N gateways (keyring.ts). Reads the policy
// for each kind's epoch and the fleet for the gateways' budgets, serves POST /v1/hmac (beside
// /livez, /readyz and /metrics, or on its own HMAC_HOST:HMAC_PORT listener), rotates keys every
// second even without traffic, and zeroes every key at shutdown. With KAFKA_BROKERS it records
// each key destruction (never the key) in the audit topic, as a gateway with its own keys does.
// With KEYRING_PEERS it shares its keys with other instances (peers.ts): it takes their chains
// at start (or founds them), and hands its own to them on POST /v1/ratchet.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createBatchingProducer, createKafka, PRODUCER_OPTIONS, type BatchingProducer } from '@lethe/kafka';
import { healthHandler, runService } from '@lethe/observability';
import { createKeyringLimiter, DEFAULT_IDENTIFIERS_PER_READING, DEFAULT_POLICY_PATH, destroyedKeyData, keyringBudgets, loadPolicy } from '@lethe/privacy';
import { AuditEventRecordSchema, DEFAULT_FLEET_PATH, DEVICE_KINDS, loadFleet, topicNames, type DeviceKind } from '@lethe/schemas';
import { loadKeyringConfig } from './config.ts';
import { createGatewayDirectory } from './gateway-tokens.ts';
import { createKeyring, keyringHandler } from './keyring.ts';
import { createKeyringMetrics, initBudgetMetrics } from './metrics.ts';
import { joinOrFound, peerHandler } from './peers.ts';

runService(
  { name: 'keyring', loadConfig: loadKeyringConfig, createMetrics: createKeyringMetrics },
  async ({ config, logger, registry, metrics, lifecycle }) => {
    const policy = loadPolicy(config.POLICY_FILE ?? DEFAULT_POLICY_PATH);
    const gateways = createGatewayDirectory(config.KEYRING_GATEWAY_TOKENS);
    const budgets = keyringBudgets({
      policy,
      fleet: loadFleet(config.FLEET_FILE ?? DEFAULT_FLEET_PATH),
      readingIntervalMs: config.KEYRING_READING_INTERVAL_SECONDS * 1000,
      identifiersPerReading: { ...DEFAULT_IDENTIFIERS_PER_READING, ...config.KEYRING_IDENTIFIERS_PER_READING },
      headroom: config.KEYRING_HEADROOM,
    });
    initBudgetMetrics(metrics, budgets, gateways.gateways);

    let audit: BatchingProducer | undefined;
    let disconnect = async () => undefined as void;
    if (config.KAFKA_BROKERS) {
      const producer = createKafka({ brokers: config.KAFKA_BROKERS, clientId: config.KAFKA_CLIENT_ID, logger }).producer(PRODUCER_OPTIONS);
      await producer.connect();
      audit = createBatchingProducer({ producer });
      disconnect = () => producer.disconnect();
    }
    const auditTopic = topicNames(config.KAFKA_TOPIC_PREFIX).audit;
    const onDestroy = (kind: DeviceKind, epoch: number) => {
      metrics.keysDestroyed.inc();
      logger.info({ kind, epoch }, 'pseudonym key destroyed');
      if (!audit) return;
      const event = AuditEventRecordSchema.parse({
        v: 1,
        type: 'key.destroyed',
        actor: 'keyring',
        at: Date.now(),
        data: destroyedKeyData(policy, kind, epoch),
      });
      audit
        .send([{ topic: auditTopic, key: 'keyring', value: JSON.stringify(event) }])
        .catch((err: unknown) => logger.error({ err }, 'could not publish an audit event'));
    };

    // One instance keeps fresh random keys, so a copy of its memory reveals only the live ones;
    // instances with peers derive them from shared forward-only chains (docs/privacy.md, P3).
    let chain = 'none (one instance, random keys)';
    let ratchets;
    if (config.KEYRING_PEERS) {
      logger.info({ peers: config.KEYRING_PEERS.length, founder: config.KEYRING_FOUNDER }, 'asking keyring peers for their key chains');
      const joined = await joinOrFound({
        peers: config.KEYRING_PEERS,
        peerToken: config.KEYRING_PEER_TOKEN!,
        founder: config.KEYRING_FOUNDER,
        joinMs: config.KEYRING_JOIN_SECONDS * 1000,
        policy,
        logger,
      });
      ratchets = joined.states;
      chain = joined.from === 'founded' ? 'founded here' : `from ${joined.from}`;
    }
    const keyring = createKeyring({ policy, onDestroy, ...(ratchets ? { ratchets } : {}) });
    const hmacApi = keyringHandler({ keyring, gateways, limiter: createKeyringLimiter(budgets), metrics, logger });
    const peerApi = config.KEYRING_PEER_TOKEN
      ? peerHandler({ states: () => keyring.ratchetStates(), peerToken: config.KEYRING_PEER_TOKEN, metrics })
      : () => false;
    const api = (req: IncomingMessage, res: ServerResponse) => hmacApi(req, res) || peerApi(req, res);
    const health = healthHandler({ registry, lifecycle });
    const notFound = (res: ServerResponse) => res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"NOT_FOUND"}');
    // With its own listener the HMAC route is served there only, so the health and metrics port
    // (which Prometheus must reach) is no way into the oracle.
    const separate = config.HMAC_PORT !== undefined;
    const server = createServer((req, res) => {
      if (!separate && api(req, res)) return;
      if (!health(req, res)) notFound(res);
    });
    const servers = [server];
    await listen(server, config.HTTP_PORT, config.HTTP_HOST);
    if (separate) {
      const hmacServer = createServer((req, res) => {
        if (!api(req, res)) notFound(res);
      });
      await listen(hmacServer, config.HMAC_PORT!, config.HMAC_HOST!);
      servers.push(hmacServer);
    }
    // Keys die on time even when no request arrives to trigger a rotation.
    const rotation = setInterval(() => {
      keyring.rotate();
      metrics.liveKeys.set(keyring.liveKeys());
    }, 1000);

    lifecycle.onShutdown('stop serving', () =>
      Promise.all(
        servers.map(
          (s) =>
            new Promise<void>((resolve) => {
              s.close(() => resolve());
              // Gateways keep connections alive: idle ones close now, busy ones after their request.
              s.closeIdleConnections();
              setTimeout(() => s.closeAllConnections(), 2_000).unref();
            }),
        ),
      ).then(() => undefined),
    );
    lifecycle.onShutdown('destroy keys', () => {
      clearInterval(rotation);
      // Keys die with the process; zero them first so no copy lingers in a core dump.
      keyring.destroyAll();
    });
    lifecycle.onShutdown('flush Kafka', async () => {
      await audit?.flush();
      await disconnect();
    });
    lifecycle.markReady();
    logger.info(
      {
        http: (server.address() as AddressInfo).port,
        host: config.HTTP_HOST,
        hmac: separate ? `${config.HMAC_HOST}:${(servers[1]!.address() as AddressInfo).port}` : 'on the http port',
        gateways: gateways.gateways,
        budgets: Object.fromEntries(
          DEVICE_KINDS.map((k) => [k, { perSecond: Math.round(budgets[k].messagesPerSecond), burst: budgets[k].burst, batchCap: budgets[k].batchCap }]),
        ),
        audit: audit ? auditTopic : null,
        chain,
      },
      'keyring started',
    );
  },
);

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
}
