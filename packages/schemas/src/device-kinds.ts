// The three kinds of street furniture Lethe knows, and the MQTT topic each device publishes on.
export const DEVICE_KINDS = ['lamppost', 'traffic-light', 'sewer'] as const;
export type DeviceKind = (typeof DEVICE_KINDS)[number];

export function isDeviceKind(value: string): value is DeviceKind {
  return (DEVICE_KINDS as readonly string[]).includes(value);
}

/** Device ids are infrastructure identifiers (LP-0001), never personal. */
export const DEVICE_ID_PATTERN = /^(LP|TL|SW)-\d{4}$/;

/** MQTT topic a device publishes its readings on: `lethe/v1/<kind>/<deviceId>/reading`. */
export function readingTopic(kind: DeviceKind, deviceId: string): string {
  return `lethe/v1/${kind}/${deviceId}/reading`;
}

/** Subscription filter matching every device's reading topic. */
export const READING_TOPIC_FILTER = 'lethe/v1/+/+/reading';

const TOPIC_PATTERN = /^lethe\/v1\/([a-z-]+)\/([A-Z]{2}-\d{4})\/reading$/;

/** Parses a reading topic; returns undefined for anything that is not one. */
export function parseReadingTopic(topic: string): { kind: DeviceKind; deviceId: string } | undefined {
  const match = TOPIC_PATTERN.exec(topic);
  if (!match) return undefined;
  const [, kind, deviceId] = match;
  if (kind === undefined || deviceId === undefined || !isDeviceKind(kind)) return undefined;
  return { kind, deviceId };
}
