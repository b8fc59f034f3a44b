// A private native Mosquitto and/or Kafka with the opt-in security listeners (MQTT over TLS,
// Kafka SASL/SCRAM with ACLs), started the way a user starts them — infra/local/up.sh with
// LETHE_MQTT_TLS_PORT / LETHE_KAFKA_SASL_PORT — in a temporary run directory on free ports, so
// the shared servers of the other suites keep their default (plain) setup. Stopped with
// infra/local/down.sh. Needs what up.sh needs (mosquitto from Debian, Kafka jars, Java, openssl).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runLocalScript, startNativeServers } from './native-servers.ts';
import { freePort } from './services.ts';

export interface OptInInfra {
  /** LETHE_LOCAL_DIR of this instance. */
  localDir: string;
  /** Its generated secrets (fleet-secret, mqtt-tls-*, kafka-*-password, …). */
  secretsDir: string;
  /** endpoints.env as written by up.sh (MQTT_URL, MQTT_TLS_URL, KAFKA_BROKERS, KAFKA_SASL_BROKERS). */
  endpoints: Record<string, string>;
  secret(name: string): string;
  stop(): Promise<void>;
}

export async function startOptInInfra(services: Array<'mosquitto' | 'kafka'>): Promise<OptInInfra> {
  const localDir = mkdtempSync(join(tmpdir(), 'lethe-security-'));
  // Every port explicit: the caller's own LETHE_*_PORT belong to the shared servers.
  const env = {
    LETHE_LOCAL_DIR: localDir,
    LETHE_MQTT_PORT: String(await freePort()),
    LETHE_MQTT_TLS_PORT: String(await freePort()),
    LETHE_KAFKA_PORT: String(await freePort()),
    LETHE_KAFKA_CONTROLLER_PORT: String(await freePort()),
    LETHE_KAFKA_SASL_PORT: String(await freePort()),
    LETHE_KAFKA_HEAP_OPTS: '-Xms128m -Xmx512m',
  };
  // down.sh on this directory whether or not up.sh got every server started, then the directory goes.
  const stop = async () => {
    await runLocalScript('down.sh', services, env).catch((err: unknown) => console.error(String(err)));
    rmSync(localDir, { recursive: true, force: true });
  };
  try {
    const servers = await startNativeServers({ env, services });
    return { localDir, secretsDir: servers.secretsDir, endpoints: servers.endpoints, secret: servers.secret, stop };
  } catch (err) {
    await stop();
    throw new Error(
      `The security tests start their own Mosquitto/Kafka with the opt-in listeners through infra/local/up.sh, and it failed (see the cause).\n` +
        'They need the same as the native stack: mosquitto (apt), the Kafka jars and Java 17 (infra/local/install-kafka.sh), openssl.',
      { cause: err },
    );
  }
}
