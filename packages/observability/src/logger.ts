// JSON logs to stdout. Identifiers must never reach a log line, so redaction is layered:
// known fields are censored by path, and any MAC address that slips into a message string
// is masked before the line is written.
import { pino, type Logger, type LoggerOptions } from 'pino';

/** Paths that may carry personal data or secrets, at the top level or one level down. */
const SENSITIVE_KEYS = ['mac', 'plate', 'wifiProbes', 'plateReads', 'payload', 'password', 'token', 'authorization', 'secret', 'key'];
export const REDACT_PATHS = SENSITIVE_KEYS.flatMap((k) => [k, `*.${k}`]);

const MAC = /\b([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}\b/g;

export function scrubIdentifiers(text: string): string {
  return text.replace(MAC, '[MAC]');
}

export interface LoggerConfig {
  service: string;
  level?: LoggerOptions['level'];
  /** Where lines go; stdout by default. Tests pass a stream to capture them. */
  destination?: NodeJS.WritableStream;
}

export function createLogger({ service, level = 'info', destination }: LoggerConfig): Logger {
  const options: LoggerOptions = {
    level,
    base: { service },
    redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    hooks: {
      logMethod(args, method) {
        method.apply(this, args.map((a) => (typeof a === 'string' ? scrubIdentifiers(a) : a)) as Parameters<typeof method>);
      },
    },
  };
  return destination ? pino(options, destination as pino.DestinationStream) : pino(options);
}

export type { Logger } from 'pino';
