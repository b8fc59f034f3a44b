// Which load generator publishes the fleet's readings (BENCH_LOADGEN): mqtt.js in a Node child
// (loadgen.ts) or the Go program (loadgen-native/). Both take the same LoadgenConfig and runs,
// and every stage that publishes uses the same one, so the raw-Mosquitto baseline and the
// pipeline are measured with the same publisher.
import { startLoadgen, type Loadgen } from './loadgen-client.ts';
import { startNativeLoadgen } from './loadgen-native.ts';
import type { LoadgenConfig } from './loadgen.ts';

export const LOADGENS = ['mqttjs', 'native'] as const;
export type LoadgenKind = (typeof LOADGENS)[number];

/** The publisher's process name in the results' CPU tables. */
export const PUBLISHER: Record<LoadgenKind, string> = { mqttjs: 'publisher (mqtt.js)', native: 'publisher (Go, paho)' };

export function startPublisher(kind: LoadgenKind, config: LoadgenConfig, log?: (line: string) => void): Promise<Loadgen> {
  return kind === 'native' ? startNativeLoadgen(config, log) : startLoadgen(config);
}
