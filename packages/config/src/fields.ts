// Reusable environment-variable field types, so every service reads them the same way.
import { z } from 'zod';

/** `a,b , c` → ['a', 'b', 'c']; rejects an empty list. */
export const commaList = () =>
  z
    .string()
    .transform((s) =>
      s
        .split(',')
        .map((part) => part.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.string()).min(1, 'must list at least one value'));

export const port = () => z.coerce.number().int().min(0).max(65_535);

export const positiveInt = () => z.coerce.number().int().positive();

export const logLevel = () => z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info');

export const url = () => z.url();

/** A prefix of Kafka topic names (a pipeline that shares a cluster): only characters Kafka allows in them. */
export const topicPrefix = () =>
  z
    .string()
    .regex(/^[A-Za-z0-9._-]*$/, 'may hold only letters, digits, ".", "_" and "-"')
    .max(100);

/** "true"/"false"/"1"/"0" → boolean. */
export const flag = () => z.enum(['true', 'false', '1', '0']).transform((s) => s === 'true' || s === '1');

/** Shared by every service. */
export const commonFields = {
  LOG_LEVEL: logLevel(),
  HTTP_HOST: z.string().default('0.0.0.0'),
  HTTP_PORT: port().default(9464),
  /**
   * The service's CPU priority, as nice(1) (0–19; higher yields more), for a stage that should
   * yield to the gateway on a shared host. A trade, measured in services/processor/README.md:
   * the processor at 10 beside the gateway on two cores brought the gateway's p99 down and the
   * pipeline's maximum too, so the shipped stacks leave every service at 0.
   */
  NICE: z.coerce.number().int().min(0).max(19).default(0),
};
