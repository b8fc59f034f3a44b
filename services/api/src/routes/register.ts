// Transparency: the register generated from the policy, with live figures, and the policy itself.
import { buildRegister } from '@lethe/privacy';
import type { RouteContext, RouteGroup } from './context.ts';

export type Register = ReturnType<typeof buildRegister>;

export function registerRoutes(ctx: RouteContext, register: Register): RouteGroup {
  return {
    handlers: {
      getRegister: async (_req, res) => {
        const live = await ctx.liveFigures.snapshot().catch(() => null);
        res.json({ ...register, live });
      },
      getPolicy: (_req, res) => {
        res.json(ctx.policy);
      },
    },
  };
}
