// The keyring's alert rules (infra/prometheus/rules/keyring.yml), run by Prometheus' own rule
// tester on made-up series: a refusal fires the critical alert, a gateway above half its budget
// for 5 minutes the warning, and a fleet at its usual rate neither. promtool comes with the
// Debian `prometheus` package (infra/local/install-prometheus.sh).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';

const ROOT = new URL('../../', import.meta.url).pathname;
const RULES = join(ROOT, 'infra/prometheus/rules/keyring.yml');

function promtool(): string {
  const bin = process.env.LETHE_PROMTOOL_BIN ?? (existsSync('/usr/bin/promtool') ? '/usr/bin/promtool' : 'promtool');
  const probe = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0)
    throw new Error(`promtool not found (${bin}); install it with \`bash infra/local/install-prometheus.sh\` or set LETHE_PROMTOOL_BIN.`);
  return bin;
}

describe('the keyring alert rules', () => {
  it('pass promtool and fire on refusals and on a gateway near its budget, not on the fleet', () => {
    const bin = promtool();
    expect(spawnSync(bin, ['check', 'rules', RULES], { encoding: 'utf8' }).status).toBe(0);
    const budget = 432;
    const tests = {
      rule_files: [RULES],
      evaluation_interval: '1m',
      tests: [
        {
          interval: '1m',
          input_series: [
            { series: 'lethe_keyring_refused_total{reason="rate_limited",service="keyring"}', values: '0 0 0 0 0 5 9 9 9 9 9 9 9 9 9' },
            { series: 'lethe_keyring_refused_total{reason="unauthorized",service="keyring"}', values: '0x14' },
            { series: `lethe_keyring_budget_messages_per_second{kind="traffic-light",service="keyring"}`, values: `${budget}x14` },
            // 300/s (> half the budget) for gateway-2; 100/s (the simulated fleet at rush hour) for gateway.
            { series: 'lethe_keyring_messages_total{gateway="gateway-2",kind="traffic-light",service="keyring"}', values: '0+18000x14' },
            { series: 'lethe_keyring_messages_total{gateway="gateway",kind="traffic-light",service="keyring"}', values: '0+6000x14' },
          ],
          alert_rule_test: [
            { eval_time: '3m', alertname: 'KeyringCallsRefused', exp_alerts: [] },
            {
              eval_time: '7m',
              alertname: 'KeyringCallsRefused',
              exp_alerts: [
                {
                  exp_labels: { severity: 'critical', reason: 'rate_limited' },
                  exp_annotations: {
                    summary: 'The keyring refused 9 HMAC calls in 5 min (rate_limited)',
                    description:
                      "Someone without a valid gateway token, or with a gateway's token beyond its budget, asked the keyring for pseudonyms. Whoever holds a gateway token can compute the current epoch's pseudonyms; find the caller, revoke the token (scripts/setup-secrets.ts --revoke-keyring-gateway <id>) and restart the keyring.",
                  },
                },
              ],
            },
            { eval_time: '4m', alertname: 'KeyringGatewayNearBudget', exp_alerts: [] },
            {
              eval_time: '12m',
              alertname: 'KeyringGatewayNearBudget',
              exp_alerts: [
                {
                  exp_labels: { severity: 'warning', gateway: 'gateway-2', kind: 'traffic-light' },
                  exp_annotations: {
                    summary: 'Gateway gateway-2 uses over half its traffic-light HMAC budget',
                    description:
                      "A gateway's pseudonym requests have stayed above half the budget derived from the fleet for 5 minutes: more identifiers than its devices should carry. Check the fleet and the readings, or whether the gateway's token is used by someone else.",
                  },
                },
              ],
            },
          ],
        },
      ],
    };
    const dir = mkdtempSync(join(tmpdir(), 'lethe-keyring-alerts-'));
    const file = join(dir, 'keyring.test.yml');
    writeFileSync(file, stringify(tests));
    const run = spawnSync(bin, ['test', 'rules', file], { encoding: 'utf8' });
    expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0);
  });
});
