// Payloads that devices publish over MQTT, one schema per device kind. Unknown keys are
// stripped by parsing (the first step of data minimization); the privacy policy then says
// which of the known fields survive and which are pseudonymized.
import { z } from 'zod';
import { DEVICE_ID_PATTERN } from './device-kinds.ts';

const deviceId = z.string().regex(DEVICE_ID_PATTERN, 'must look like LP-0001, TL-0001 or SW-0001');
const seq = z.number().int().nonnegative().describe('Per-device sequence number, +1 per reading, restarts at 0 only when the device is reset');
const ts = z.iso.datetime({ offset: true }).describe('Time of measurement, ISO 8601 with offset');
const finite = (min: number, max: number) => z.number().min(min).max(max);

/** A MAC address as devices report it; also what @lethe/audit refuses to record. */
export const MAC_PATTERN = /^([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}$/;
/** A licence plate as cameras report it; also what @lethe/audit refuses to record. */
export const PLATE_PATTERN = /^[A-Z0-9]{1,3} ?[A-Z0-9]{1,5}$/;

/** A Wi-Fi probe request heard by a lamppost: the MAC is a direct identifier. */
export const WifiProbeSchema = z.object({
  mac: z.string().regex(MAC_PATTERN, 'must be a MAC address like 02:1A:2B:3C:4D:5E'),
  rssi: finite(-120, 0).optional(),
  ssids: z.array(z.string().max(32)).max(16).optional(),
});

export const LamppostReadingSchema = z.object({
  deviceId,
  seq,
  ts,
  pm25: finite(0, 1000),
  pm10: finite(0, 2000),
  no2: finite(0, 2000),
  noiseDba: finite(0, 160),
  lux: finite(0, 200_000),
  temperatureC: finite(-40, 70),
  humidityPct: finite(0, 100),
  dimmingPct: finite(0, 100),
  energyWh: finite(0, 10_000),
  wifiProbes: z.array(WifiProbeSchema).max(500).default([]),
});

/** A licence plate read by a traffic light's ANPR camera: the plate is a direct identifier. */
export const PlateReadSchema = z.object({
  plate: z.string().regex(PLATE_PATTERN, 'must be an upper-case licence plate like AB 1234'),
  speedKmh: finite(0, 250),
  imageRef: z.string().max(200).optional(),
});

export const TrafficLightReadingSchema = z.object({
  deviceId,
  seq,
  ts,
  phase: z.enum(['red', 'amber', 'green', 'flashing']),
  vehicleCount: z.number().int().min(0).max(10_000),
  occupancyPct: finite(0, 100),
  queueLength: z.number().int().min(0).max(1000),
  meanSpeedKmh: finite(0, 250),
  plateReads: z.array(PlateReadSchema).max(500).default([]),
});

export const SewerReadingSchema = z.object({
  deviceId,
  seq,
  ts,
  levelCm: finite(0, 1000),
  flowLps: finite(0, 100_000),
  h2sPpm: finite(0, 1000),
  temperatureC: finite(-10, 60),
  overflow: z.boolean(),
});

export type LamppostReading = z.infer<typeof LamppostReadingSchema>;
export type TrafficLightReading = z.infer<typeof TrafficLightReadingSchema>;
export type SewerReading = z.infer<typeof SewerReadingSchema>;
/** Input form (before defaults), as a device would publish it. */
export type LamppostReadingInput = z.input<typeof LamppostReadingSchema>;
export type TrafficLightReadingInput = z.input<typeof TrafficLightReadingSchema>;
export type SewerReadingInput = z.input<typeof SewerReadingSchema>;

export const READING_SCHEMAS = {
  lamppost: LamppostReadingSchema,
  'traffic-light': TrafficLightReadingSchema,
  sewer: SewerReadingSchema,
} as const;

export type Reading = LamppostReading | TrafficLightReading | SewerReading;
export type ReadingInput = LamppostReadingInput | TrafficLightReadingInput | SewerReadingInput;
