// Web pages for people: the register page, the live city page, their stylesheet and script,
// and / (a redirect to the register).
import { readFileSync } from 'node:fs';
import { cityPage } from '../city-page.ts';
import { PAGE_HEADERS } from '../html.ts';
import { registerPage } from '../register-page.ts';
import type { RouteContext, RouteGroup } from './context.ts';
import { currentRegister, type Register } from './register.ts';

/** The pages' stylesheet and the city page's script, files of their own (linted and formatted as the rest). */
const asset = (name: string) => readFileSync(new URL(`../../assets/${name}`, import.meta.url), 'utf8');
const STYLESHEET = asset('lethe.css');
const CITY_SCRIPT = asset('city.js');

/** The schema (docs/openapi.yaml) bounds `range` to 1–4 digits; the page looks back that far. */
export const CITY_RANGE = /^-\d{1,4}(s|m|h)$/;

export function pageRoutes(ctx: RouteContext, register: Register): RouteGroup {
  return {
    handlers: {
      root: (_req, res) => void res.status(302).set('location', '/register').end(),
      stylesheet: (_req, res) => void res.type('text/css').set('cache-control', 'public, max-age=300').send(STYLESHEET),
      cityScript: (_req, res) => void res.type('text/javascript').set('cache-control', 'public, max-age=300').send(CITY_SCRIPT),
      registerPage: async (_req, res) => {
        const live = await ctx.liveFigures.snapshot().catch(() => undefined);
        res
          .status(200)
          .set(PAGE_HEADERS)
          .send(registerPage(currentRegister(ctx, register), live));
      },
      cityPage: (req, res) => {
        // Types, bounds and the pattern are checked against the document before this runs.
        const refresh = req.query.refresh === undefined ? (ctx.city?.refreshSeconds ?? 30) : Number(req.query.refresh);
        const range = req.query.range === undefined ? (ctx.city?.range ?? '-10m') : String(req.query.range);
        const problems: string[] = [];
        if (!Number.isInteger(refresh) || refresh < 5 || refresh > 3600) problems.push('refresh: must be a whole number of seconds from 5 to 3600');
        if (!CITY_RANGE.test(range)) problems.push('range: must be a duration before now like -10m or -1h');
        if (problems.length > 0) {
          res.status(400).json({ error: 'invalid query', problems });
          return;
        }
        res
          .status(200)
          .set(PAGE_HEADERS)
          .send(cityPage(ctx.catalogue.districts, { refreshSeconds: refresh, range }));
      },
    },
  };
}
