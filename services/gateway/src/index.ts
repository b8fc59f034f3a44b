// The gateway's building blocks for composing it in another process (the one-process demo):
// the ingest handler and what it counts, and MQTT acknowledgement only once a reading was taken.
export { createIngestHandler } from './gateway.ts';
export { createIngestMetrics } from './metrics.ts';
export { acknowledgeAfterHandling, connectFirst } from './mqtt-source.ts';
