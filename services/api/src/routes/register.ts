// Transparency: the register generated from the policy, with each topic's replication as last
// read from the brokers and the live figures, and the policy itself.
import { buildRegister, withReplication } from '@lethe/privacy';
import type { RouteContext, RouteGroup } from './context.ts';

export type Register = ReturnType<typeof buildRegister>;

/** The register as served now: the policy's, with the replication the brokers last reported. */
export function currentRegister(ctx: Pick<RouteContext, 'topicReplication'>, register: Register): Register {
  const replication = ctx.topicReplication;
  return replication ? withReplication(register, (topic) => replication.of(topic)) : register;
}

export function registerRoutes(ctx: RouteContext, register: Register): RouteGroup {
  return {
    handlers: {
      getRegister: async (_req, res) => {
        const live = await ctx.liveFigures.snapshot().catch(() => null);
        res.json({ ...currentRegister(ctx, register), live });
      },
      getPolicy: (_req, res) => {
        res.json(ctx.policy);
      },
    },
  };
}
