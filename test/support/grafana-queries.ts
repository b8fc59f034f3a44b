// The dashboards' queries as Grafana sends them; shared with scripts/check-dashboards.ts.
export {
  asGrafanaSendsIt,
  asGrafanaSendsPromQL,
  dashboardPromQueries,
  dashboardQueries,
  labelValuesQuery,
  rateIntervalSeconds,
  type DashboardPromQuery,
  type DashboardQuery,
  type PromQueryContext,
  type QueryContext,
} from '../../scripts/grafana-queries.ts';
