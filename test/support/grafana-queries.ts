// The dashboards' queries as Grafana sends them; shared with scripts/check-dashboards.ts.
export { asGrafanaSendsIt, dashboardQueries, type DashboardQuery, type QueryContext } from '../../scripts/grafana-queries.ts';
