#!/usr/bin/env node
// `pnpm demo`: Lethe in one process, for people without Docker or servers. An embedded MQTT
// broker (aedes) with per-device authentication and the ACL; the gateway's and the processor's
// privacy stages composed in-process; the anonymous aggregates in the api's in-memory store;
// the api and its pages; and the simulator publishing through MQTT as the devices. Nothing is
// written to disk except the secrets of the run (a private temporary directory, removed at exit).
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { createMemoryAuditLog } from '@lethe/audit';
import {
  buildCatalogue,
  createApiMetrics,
  createApp,
  createLiveFigures,
  createMemoryAggregateStore,
  createRetentionSchedule,
  createRequesterDirectory,
  DEFAULT_DISTRICTS_PATH,
  DEFAULT_REQUESTERS_PATH,
  loadDistricts,
  loadOpenApiDocument,
  loadRequesters,
} from '@lethe/api';
import { createLifecycle, createLogger, createMetricsRegistry } from '@lethe/observability';
import { rawDataLimit } from '@lethe/privacy';
import { DEFAULT_FLEET_PATH, loadFleet } from '@lethe/schemas';
import { createCity, createFleetPublisher, loadScenario, runSimulation } from '@lethe/simulator';
import { banner } from './banner.ts';
import { startBroker } from './broker.ts';
import { loadDemoConfig } from './config.ts';
import { choosePolicy } from './demo-policy.ts';
import { startGatewayClient } from './gateway-client.ts';
import { createHeldSightings } from './held-sightings.ts';
import { createDemoMetrics } from './metrics.ts';
import { createPipeline } from './pipeline.ts';
import { createDemoSecrets } from './secrets.ts';

async function main(): Promise<void> {
  const config = loadDemoConfig();
  const logger = createLogger({ service: 'demo', level: config.LOG_LEVEL, destination: process.stderr });
  const registry = createMetricsRegistry('demo');
  const apiMetrics = createApiMetrics(registry);
  const metrics = createDemoMetrics(registry);
  const lifecycle = createLifecycle({ logger });
  lifecycle.handleSignals();

  const { policy, description } = choosePolicy(config.DEMO_POLICY, config.POLICY_FILE);
  const fleet = loadFleet(config.FLEET_FILE ?? DEFAULT_FLEET_PATH);
  const catalogue = buildCatalogue(policy, fleet, loadDistricts(DEFAULT_DISTRICTS_PATH));
  const requesterList = loadRequesters(DEFAULT_REQUESTERS_PATH);
  const scenario = loadScenario(config.SCENARIO);
  const secrets = createDemoSecrets(requesterList);
  // Also on a failed start: process.exit runs 'exit' listeners.
  process.once('exit', () => secrets.remove());

  const audit = createMemoryAuditLog();
  const store = createMemoryAggregateStore();
  const held = createHeldSightings();
  // The api's scheduled retention check and attestations, over what the demo holds.
  const { limitMs } = rawDataLimit(policy);
  const retention = createRetentionSchedule({
    topics: held.topics,
    check: (topic, at) => Promise.resolve(held.check(topic, at, limitMs)),
    intervalMs: 5000,
    periodMs: policy.rawData.ttl,
    limitMs,
    audit,
    logger,
  });
  const liveFigures = createLiveFigures({
    policy,
    audit,
    store,
    checks: retention,
    keyGraceMs: policy.rawData.keyGrace,
    onError: (source, err) => logger.warn({ source, err: { message: (err as Error).message } }, 'a live figure is unavailable'),
  });
  const pipeline = createPipeline({ policy, fleet, store, audit, held, metrics, logger, windowGraceMs: config.WINDOW_GRACE_SECONDS * 1000 });
  pipeline.start();
  retention.start();

  const broker = await startBroker({
    fleet,
    fleetSecret: secrets.fleetSecret,
    gatewayPassword: secrets.gatewayPassword,
    port: config.MQTT_PORT,
    logger,
    onDenied: (action) => metrics.aclDenied.labels(action).inc(),
  });
  const gateway = await startGatewayClient({ url: broker.url, password: secrets.gatewayPassword, logger, take: pipeline.take });

  // The city page refreshes about once per window and looks back a few windows.
  const windowSeconds = Math.max(...Object.values(policy.kinds).map((k) => k.window / 1000));
  const app = createApp({
    policy,
    catalogue,
    requesters: createRequesterDirectory(requesterList, secrets.tokenHashes),
    store,
    liveFigures,
    audit,
    openapi: loadOpenApiDocument(),
    registry,
    metrics: apiMetrics,
    lifecycle,
    logger,
    keyGraceMs: policy.rawData.keyGrace,
    city: { refreshSeconds: Math.min(30, Math.max(5, windowSeconds)), range: `-${Math.max(2, Math.ceil((windowSeconds * 6) / 60))}m` },
  });
  const server: Server = app.listen(config.PORT, config.HTTP_HOST);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'EADDRINUSE' ? new Error(`port ${config.PORT} is in use on ${config.HTTP_HOST}; choose another with PORT, e.g. PORT=8081 pnpm demo`) : err,
      ),
    );
  });
  const host = config.HTTP_HOST === '0.0.0.0' || config.HTTP_HOST === '::' ? '127.0.0.1' : config.HTTP_HOST;
  const httpUrl = `http://${host.includes(':') ? `[${host}]` : host}:${(server.address() as AddressInfo).port}`;

  const rate = config.RATE ?? fleet.devices.length / 5;
  const simulation = new AbortController();
  let simulator: Promise<unknown> = Promise.resolve();
  const publisher = createFleetPublisher({ url: broker.url, fleetSecret: secrets.fleetSecret, clientIdPrefix: 'demo-sim' });
  if (rate > 0) {
    const tickSeconds = fleet.devices.length / rate;
    simulator = runSimulation({
      city: createCity({ devices: fleet.devices, scenario, seed: config.SEED, tickSeconds }),
      publisher,
      tickSeconds,
      signal: simulation.signal,
    }).catch((err: unknown) => logger.error({ err: { message: (err as Error).message } }, 'the simulator stopped'));
  }

  const started = Date.now();
  const status =
    config.STATUS_SECONDS > 0
      ? setInterval(() => {
          const s = pipeline.stats();
          console.log(
            `[${new Date().toISOString().slice(11, 19)} UTC, ${Math.round((Date.now() - started) / 1000)} s] ${s.received} readings received (${s.rejected} refused), ${s.aggregates} anonymous aggregates stored, ${s.keysDestroyed} pseudonym keys destroyed`,
          );
        }, config.STATUS_SECONDS * 1000)
      : undefined;

  // Not ready → stop the input (simulator, then the gateway's subscription) → release what is
  // due and destroy the keys → close the broker and the HTTP server.
  lifecycle.onShutdown('stop the status line', () => clearInterval(status));
  lifecycle.onShutdown('stop the simulator', async () => {
    simulation.abort();
    await simulator;
    await publisher.close();
  });
  lifecycle.onShutdown('stop the gateway subscription', () => gateway.stop());
  lifecycle.onShutdown('stop the retention check', () => retention.stop());
  lifecycle.onShutdown('close due windows and destroy the keys', () => pipeline.stop());
  lifecycle.onShutdown('close the MQTT broker', () => broker.close());
  lifecycle.onShutdown('close HTTP', () => new Promise<void>((resolve) => server.close(() => resolve())));
  lifecycle.onShutdown('remove the secrets of this run', () => secrets.remove());
  lifecycle.markReady();

  const kinds = { lamppost: fleet.ofKind('lamppost').length, 'traffic-light': fleet.ofKind('traffic-light').length, sewer: fleet.ofKind('sewer').length };
  console.log(
    banner({
      httpUrl,
      mqttUrl: broker.url,
      devices: { total: fleet.devices.length, ...kinds },
      scenario: config.SCENARIO,
      rate,
      policyDescription: description,
      secrets,
      logLevel: config.LOG_LEVEL,
    }),
  );
}

main().catch((err: unknown) => {
  console.error(`lethe demo: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
