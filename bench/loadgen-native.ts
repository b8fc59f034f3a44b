// The parent's side of the native load generator (bench/loadgen-native/, Go and paho.mqtt.golang):
// the same Loadgen as loadgen-client.ts, over JSON lines on the child's stdin and stdout instead
// of Node's IPC channel. Built on first use into the user's cache, and again when a source is
// newer than the binary.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { createInterface } from 'node:readline';
import { devicePassword } from '@lethe/config';
import { running } from './infra.ts';
import type { Loadgen } from './loadgen-client.ts';
import type { FromLoadgen, LoadgenConfig, LoadgenRun } from './loadgen.ts';

const SOURCES = new URL('./loadgen-native/', import.meta.url).pathname;

/** LoadgenConfig as the Go program takes it: each device's password, so the fleet secret stays here. */
interface NativeConfig {
  url: string;
  clientIdPrefix: string;
  maxInFlightPerDevice: number;
  devices: Array<{ deviceId: string; topic: string; tails: string[]; password: string }>;
}

/** ToLoadgen in JSON, which has no Infinity: a null cap is no cap. */
type ToNative =
  | { type: 'config'; config: NativeConfig }
  | { type: 'run'; run: Omit<LoadgenRun, 'allow'> & { allow: number | null } }
  | { type: 'allow'; total: number | null }
  | { type: 'stop' }
  | { type: 'close' };

const capOf = (n: number) => (Number.isFinite(n) ? n : null);

function findGo(): string {
  // /usr/local/go is where Go's own archive installs, often not on a non-login shell's PATH.
  for (const dir of [...(process.env.PATH ?? '').split(delimiter), '/usr/local/go/bin']) {
    if (dir && existsSync(join(dir, 'go'))) return join(dir, 'go');
  }
  throw new Error(
    'the native load generator is built with Go, and `go` is not on PATH: install Go ≥ 1.24 (paho.mqtt.golang 1.5 needs it), or set BENCH_LOADGEN=mqttjs to publish with mqtt.js instead',
  );
}

/** The binary's path, after building it if it is missing or older than a source file. */
export function buildNativeLoadgen(log: (line: string) => void = (line) => console.error(line)): string {
  const cache = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'lethe', 'loadgen-native');
  const bin = join(cache, 'lethe-loadgen');
  const sources = readdirSync(SOURCES).filter((f) => f.endsWith('.go') || f === 'go.mod' || f === 'go.sum');
  const newest = Math.max(...sources.map((f) => statSync(join(SOURCES, f)).mtimeMs));
  if (existsSync(bin) && statSync(bin).mtimeMs >= newest) return bin;
  const go = findGo();
  log(`building the native load generator: go build ${SOURCES} → ${bin}`);
  mkdirSync(cache, { recursive: true });
  // Built under another name and renamed, so a bench starting meanwhile never runs half a binary.
  const tmp = `${bin}.${process.pid}`;
  execFileSync(go, ['build', '-trimpath', '-o', tmp, '.'], { cwd: SOURCES, stdio: ['ignore', 'inherit', 'inherit'] });
  renameSync(tmp, bin);
  return bin;
}

/** A line from the child; an empty histogram's min and max come as null (JSON has no Infinity). */
function parse(line: string): FromLoadgen {
  try {
    const m = JSON.parse(line) as FromLoadgen;
    if (m.type === 'done' && m.summary.ackLatency.n === 0) Object.assign(m.summary.ackLatency, { min: Infinity, max: -Infinity });
    return m;
  } catch {
    return { type: 'error', message: `unreadable line: ${line.slice(0, 200)}` };
  }
}

export async function startNativeLoadgen(config: LoadgenConfig, log?: (line: string) => void): Promise<Loadgen> {
  const child = spawn(buildNativeLoadgen(log), [], { stdio: ['pipe', 'pipe', 'inherit'] });
  running.add(child);
  const listeners = new Set<(m: FromLoadgen) => void>();
  const dispatch = (m: FromLoadgen) => listeners.forEach((l) => l(m));
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    const gone = () => ((exited = true), running.delete(child), resolve());
    child.once('exit', gone);
    // Not started at all (no 'exit' then): the waiting next() hears why.
    child.once('error', (err) => (dispatch({ type: 'error', message: err.message }), gone()));
  });
  createInterface({ input: child.stdout! }).on('line', (line) => dispatch(parse(line)));
  // Writing to a child that died fails with EPIPE; its exit is what next() reports.
  child.stdin!.on('error', () => {});
  const send = (m: ToNative) => void child.stdin!.write(`${JSON.stringify(m)}\n`);

  /** Resolves with the first event `match` accepts; rejects on an `error` event, exit or timeout. */
  const next = <T extends FromLoadgen>(match: (m: FromLoadgen) => m is T, timeoutMs: number) =>
    new Promise<T>((resolve, reject) => {
      if (exited) return reject(new Error('native load generator exited'));
      const timer = setTimeout(() => done(new Error(`native load generator: no answer within ${timeoutMs / 1000} s`)), timeoutMs);
      const listener = (m: FromLoadgen) => {
        if (m.type === 'error') done(new Error(`native load generator: ${m.message}`));
        else if (match(m)) done(undefined, m);
      };
      const onExit = () => done(new Error('native load generator exited'));
      function done(err?: Error, m?: T) {
        clearTimeout(timer);
        listeners.delete(listener);
        child.off('exit', onExit);
        if (err) reject(err);
        else resolve(m!);
      }
      listeners.add(listener);
      child.once('exit', onExit);
    });

  send({
    type: 'config',
    config: {
      url: config.url,
      clientIdPrefix: config.clientIdPrefix,
      maxInFlightPerDevice: config.maxInFlightPerDevice,
      devices: config.devices.map((d) => ({ deviceId: d.deviceId, topic: d.topic, tails: d.tails, password: devicePassword(config.fleetSecret, d.deviceId) })),
    },
  });
  try {
    await next((m): m is Extract<FromLoadgen, { type: 'connected' }> => m.type === 'connected', 60_000);
  } catch (err) {
    // Some devices may be connected: they go with the process.
    child.kill('SIGKILL');
    throw err;
  }
  return {
    pid: child.pid!,
    async run(run, onProgress) {
      const listener = (m: FromLoadgen) => {
        if (m.type === 'progress') onProgress?.(m);
      };
      listeners.add(listener);
      send({ type: 'run', run: { ...run, allow: capOf(run.allow) } });
      try {
        const done = await next((m): m is Extract<FromLoadgen, { type: 'done' }> => m.type === 'done', (run.seconds + 90) * 1000);
        return done.summary;
      } finally {
        listeners.delete(listener);
      }
    },
    allow: (total) => send({ type: 'allow', total: capOf(total) }),
    stop: () => send({ type: 'stop' }),
    async close() {
      send({ type: 'close' });
      child.stdin!.end();
      await Promise.race([exit, new Promise((r) => setTimeout(r, 5000))]);
      if (exited) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exit;
      clearTimeout(timer);
    },
  };
}
