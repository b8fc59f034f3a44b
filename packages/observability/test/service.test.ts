// runService (service.ts), the start-up every services/*/src/main.ts shares: in a child process,
// since a failed start-up ends the process.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const SERVICE = new URL('../src/service.ts', import.meta.url).pathname;

function start(body: string) {
  const script = `import { runService } from ${JSON.stringify(SERVICE)};\n${body}`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('runService', () => {
  it('hands the service its config, logger, metrics and lifecycle, the metrics in its registry', () => {
    const r = start(`
runService(
  { name: 'demo', loadConfig: () => ({ LOG_LEVEL: 'silent', answer: 42 }), createMetrics: (registry) => ({ registry }) },
  async ({ config, logger, registry, metrics, lifecycle }) => {
    const text = await registry.metrics();
    console.log(JSON.stringify({ answer: config.answer, same: metrics.registry === registry, logger: typeof logger.info, stop: typeof lifecycle.onShutdown, labelled: text.includes('service="demo"') }));
    process.exit(0);
  },
);`);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ answer: 42, same: true, logger: 'function', stop: 'function', labelled: true });
  });

  it('stops with exit 1 and the message alone when the configuration is refused, before running anything', () => {
    const r = start(`
runService(
  { name: 'demo', loadConfig: () => { throw new Error('Invalid configuration for demo:\\n  - MQTT_URL: required'); }, createMetrics: () => ({}) },
  async () => console.log('ran'),
);`);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim()).toBe('Invalid configuration for demo:\n  - MQTT_URL: required');
  });

  it('stops with exit 1 when start-up fails later', () => {
    const r = start(`
runService({ name: 'demo', loadConfig: () => ({ LOG_LEVEL: 'silent' }), createMetrics: () => ({}) }, async () => {
  throw new Error('Kafka unreachable at 127.0.0.1:1');
});`);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe('Kafka unreachable at 127.0.0.1:1');
  });
});
