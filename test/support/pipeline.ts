// The pipeline's stream services (writer, processor, gateway) as child processes on the test's
// servers, for the tests that drive readings end to end. Started in the order that loses
// nothing: the writer and the processor first, then the gateway, which takes what Mosquitto
// queued. The gateway uses the production MQTT client ids: persistent sessions of other ids
// would stay in the shared subscription group after the process ends and take their share of
// later runs' messages.
import { randomBytes } from 'node:crypto';
import type { TestInfra } from './global-setup.ts';
import { influxEnv, startService, type RunningService } from './services.ts';

export interface PipelineOptions {
  infra: TestInfra;
  policyFile: string;
  /** The consumer groups are `<groupPrefix>-writer` and `<groupPrefix>-processor`: a run of its own. */
  groupPrefix: string;
  /** More variables for all three (e.g. LOG_LEVEL). */
  env?: Record<string, string>;
  /**
   * The processor's window settings and noise key; by default a 1 s grace, 2 s maximum wait,
   * 200 ms ticks and a fresh random noise key, so short test windows close within seconds.
   */
  processor?: Record<string, string>;
}

export interface Pipeline {
  writer: RunningService;
  processor: RunningService;
  gateway: RunningService;
  /** In start order; stop them in reverse. */
  services: RunningService[];
}

export async function startPipeline({ infra, policyFile, groupPrefix, env = {}, processor = {} }: PipelineOptions): Promise<Pipeline> {
  const common = { KAFKA_BROKERS: infra.kafkaBrokers.join(','), POLICY_FILE: policyFile, ...env };
  const writer = await startService('writer', {
    ...common,
    KAFKA_GROUP_ID: `${groupPrefix}-writer`,
    ...influxEnv(infra.influx, 'writer'),
  });
  const started: RunningService[] = [writer];
  try {
    const proc = await startService('processor', {
      ...common,
      KAFKA_GROUP_ID: `${groupPrefix}-processor`,
      WINDOW_GRACE_SECONDS: '1',
      WINDOW_MAX_WAIT_SECONDS: '2',
      TICK_MS: '200',
      NOISE_KEY: randomBytes(32).toString('hex'),
      ...processor,
    });
    started.push(proc);
    const gateway = await startService('gateway', { ...common, MQTT_URL: infra.mqttUrl, MQTT_USERNAME: 'lethe-gateway', MQTT_PASSWORD: infra.gatewayPassword });
    started.push(gateway);
    return { writer, processor: proc, gateway, services: started };
  } catch (err) {
    // What did start would otherwise outlive the test.
    for (const s of started.reverse()) await s.stop();
    throw err;
  }
}
