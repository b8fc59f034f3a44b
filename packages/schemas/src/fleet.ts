// The device registry (seeds/fleet.json): which devices exist, their kind and district. The
// gateway refuses readings from devices that are not in it.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { DEVICE_ID_PATTERN, DEVICE_KINDS, type DeviceKind } from './device-kinds.ts';

export const DeviceSchema = z.object({
  id: z.string().regex(DEVICE_ID_PATTERN),
  kind: z.enum(DEVICE_KINDS),
  district: z.string().min(1),
  lat: z.number().min(-90).max(90),
  lon: z.number().min(-180).max(180),
});
export type Device = z.infer<typeof DeviceSchema>;

export const FleetSchema = z.object({ devices: z.array(DeviceSchema).min(1) });

export interface Fleet {
  readonly devices: readonly Device[];
  get(deviceId: string): Device | undefined;
  ofKind(kind: DeviceKind): Device[];
}

export function createFleet(devices: readonly Device[]): Fleet {
  const byId = new Map(devices.map((d) => [d.id, d]));
  if (byId.size !== devices.length) throw new Error('fleet has duplicate device ids');
  return {
    devices,
    get: (id) => byId.get(id),
    ofKind: (kind) => devices.filter((d) => d.kind === kind),
  };
}

export function loadFleet(path: string): Fleet {
  const parsed = FleetSchema.safeParse(JSON.parse(readFileSync(path, 'utf8')));
  if (!parsed.success) {
    throw new Error(`Invalid fleet file ${path}:\n${parsed.error.issues.map((i) => `  - ${i.path.join('.')}: ${i.message}`).join('\n')}`);
  }
  return createFleet(parsed.data.devices);
}

/** The default fleet shipped in seeds/. */
export const DEFAULT_FLEET_PATH = new URL('../../../seeds/fleet.json', import.meta.url).pathname;
