// `lethe register`: the public transparency register (GET /v1/register) in plain words — who is
// accountable, per kind of sensor what it measures, what it learns about people and what
// happens to that, why and for how long — and the live figures that show the rules kept.
import { parseArgs } from 'node:util';
import { EXIT, type Command } from '../command.ts';
import { apiBase, ApiUnreachable, parseOrUsage, requestJson, seconds } from '../options.ts';

const HELP = `Usage: lethe register [--api <url>] [--json]

Prints the transparency register of a running Lethe api (GET /v1/register) as a plain-language
summary: who is accountable, every kind of sensor with what it measures, the personal data it
sees and what happens to it, purposes, legal basis, time limits, k and ε; how many copies Kafka
keeps of the records about people (as its servers report them); then the live figures
(oldest record about a person, keys destroyed, privacy budget spent, requests refused).

Options:
  --api <url>   the api (env LETHE_API_URL, default http://127.0.0.1:8080)
  --json        print the register as JSON instead
  -h, --help    show this text

Exit code: 0 printed; 2 the api cannot be reached or bad arguments.

Examples:
  lethe register
  lethe register --api http://127.0.0.1:18080 --json | jq '.sensors[].processing'`;

interface Duration {
  ms: number;
  text: string;
}
interface RegisterJson {
  policy: { id: string; version: number };
  controller: string;
  contact: string;
  rawData: { ttl: Duration };
  aggregates: { retention: Duration };
  /** `replication` is absent from the register of an api older than it. */
  topics?: Array<{ topic: string; personal: boolean; replication?: Replication }>;
  sensors: Array<{
    kind: string;
    title: string;
    description: string;
    purposes: string[];
    legalBasis: string;
    measures: Array<{ field: string; class: string; unit?: string; description?: string }>;
    personalData: Array<{ field: string; treatment: string; description?: string; handling: string }>;
    processing: { pseudonymEpoch: Duration; window: Duration; k: number; epsilonPerRelease: number; epsilonPerDay: number };
    rawDataTtl: Duration;
  }>;
  live: null | {
    at: string;
    asOf: string;
    rawData: { ttlSeconds: number; limitSeconds: number; checkEverySeconds: number; topics: Array<{ topic: string; withinLimit: boolean | null }> };
    retention: { periods: number; allWithinLimit: boolean | null };
    keysDestroyed: { total: number; latestEpochEnd: string | null };
    epsilonToday: null | Array<{ stream: string; spentToday: number; budgetToday: number }>;
    requests: { received: number; answered: number; refused: number; refusedToday: number };
    routesRefused: number;
    unavailable: string[];
  };
}

interface Replication {
  state: string;
  replicas: number | null;
  minInsyncReplicas: number | null;
  uncleanLeaderElection: boolean | null;
}

const human = (d: Duration) => seconds(d.ms / 1000);

const REPLICATION_UNKNOWN: Record<string, string> = {
  'not-read': 'not read from the servers',
  'no-such-topic': 'not created yet',
  'read-failed': 'not known right now',
};

function copies(r: Replication): string {
  if (r.state !== 'read') return REPLICATION_UNKNOWN[r.state] ?? `not known (${r.state})`;
  return `${r.replicas} (a record counts as written once ${r.minInsyncReplicas} ${r.minInsyncReplicas === 1 ? 'has' : 'have'} it${r.uncleanLeaderElection ? '; a copy that missed records MAY take over' : ''})`;
}

export function registerSummary(r: RegisterJson): string[] {
  const lines = [
    `Transparency register — policy ${r.policy.id}, version ${r.policy.version}`,
    `Accountable: ${r.controller} <${r.contact}>`,
    '',
    `In short: phone MACs and licence plates become pseudonyms at the first server and are never stored; records about people`,
    `are deleted after at most ${human(r.rawData.ttl)}; only anonymous figures are kept (for ${human(r.aggregates.retention)}).`,
  ];
  for (const s of r.sensors) {
    const p = s.processing;
    lines.push('', `${s.title} (${s.kind})`, `  ${s.description}`);
    lines.push(
      `  Measures: ${s.measures.map((m) => `${m.description ?? m.field}${m.unit ? ` (${m.unit})` : ''}${m.class === 'person-derived' ? ' [about people]' : m.class === 'presence-dependent' ? ' [moves with presence: noisy district mean]' : ''}`).join('; ')}`,
    );
    if (s.personalData.length === 0) lines.push('  Personal data: none.');
    else
      for (const d of s.personalData)
        lines.push(
          `  Personal data: ${d.description ?? d.field} — ${d.treatment === 'drop' ? 'dropped at the gateway' : 'pseudonymized at the gateway'}. ${d.handling}`,
        );
    lines.push(`  Purposes: ${s.purposes.join(', ')}`);
    lines.push(`  Legal basis: ${s.legalBasis}`);
    const people =
      s.personalData.length === 0
        ? 'it sends nothing about people'
        : `records about people kept at most ${human(s.rawDataTtl)}; pseudonyms change every ${human(p.pseudonymEpoch)}`;
    lines.push(
      `  Limits: figures per ${human(p.window)}; ${people};`,
      `          groups under k = ${p.k} withheld; ε = ${p.epsilonPerRelease} per published figure, at most ${p.epsilonPerDay} per day`,
    );
  }
  const personal = (r.topics ?? []).filter((t) => t.personal && t.replication);
  if (personal.length > 0)
    lines.push(
      '',
      `Copies of records about people (as the Kafka servers report them): ${personal.map((t) => `${t.topic} ${copies(t.replication!)}`).join(', ')}`,
    );
  lines.push('');
  const live = r.live;
  if (!live) {
    lines.push('Live figures: not available right now.');
    return lines;
  }
  // Figures about people are given as of a past minute and never as counts or times of records (P9).
  lines.push(
    `Live figures (about people as of ${live.asOf.replace('T', ' ').slice(0, 16)} UTC)${live.unavailable.length > 0 ? ` — not available: ${live.unavailable.join(', ')}` : ''}:`,
  );
  const within = (v: boolean | null) => (v === null ? 'not checked' : v ? 'yes' : 'NO');
  lines.push(
    `  Every record about a person younger than ${Math.floor(live.rawData.limitSeconds / 60)} min ${live.rawData.limitSeconds % 60} s (TTL ${seconds(live.rawData.ttlSeconds)} + stated bound): ${live.rawData.topics.map((t) => `${t.topic} ${within(t.withinLimit)}`).join(', ')}`,
  );
  lines.push(
    `  Retention periods attested: ${live.retention.periods}${live.retention.allWithinLimit === true ? '' : live.retention.allWithinLimit === null ? ' (not all could be checked)' : ' (some found a record held too long)'}`,
  );
  lines.push(
    `  Pseudonym keys destroyed: ${live.keysDestroyed.total}${live.keysDestroyed.latestEpochEnd ? ` (latest for the period ending ${live.keysDestroyed.latestEpochEnd.replace('T', ' ').slice(0, 16)} UTC)` : ''}`,
  );
  if (live.epsilonToday === null) lines.push('  Privacy budget spent today: not available');
  else if (live.epsilonToday.length === 0) lines.push('  Privacy budget spent today: nothing released about people yet');
  else lines.push(`  Privacy budget spent today: ${live.epsilonToday.map((e) => `${e.stream} ${e.spentToday} of ${e.budgetToday}`).join(', ')}`);
  lines.push(
    `  Data requests: ${live.requests.received} received, ${live.requests.answered} answered, ${live.requests.refused} refused (${live.requests.refusedToday} today)`,
  );
  lines.push(`  Attempts at individual-level data refused: ${live.routesRefused}`);
  return lines;
}

export const register: Command = {
  name: ['register'],
  summary: 'print the transparency register and its live figures in plain words',
  example: 'lethe register --api http://127.0.0.1:8080',
  help: HELP,
  async run(args, io) {
    const { values } = parseOrUsage(() => parseArgs({ args, strict: true, options: { api: { type: 'string' }, json: { type: 'boolean', default: false } } }));
    const base = apiBase(values.api, process.env);
    let answer;
    try {
      answer = await requestJson(`${base}/v1/register`);
    } catch (err) {
      if (!(err instanceof ApiUnreachable)) throw err;
      io.err(`lethe register: ${err.message}`);
      return EXIT.error;
    }
    if (answer.status !== 200 || typeof answer.body !== 'object' || answer.body === null || !('sensors' in answer.body)) {
      io.err(`lethe register: ${base}/v1/register answered HTTP ${answer.status} without a register`);
      return EXIT.error;
    }
    if (values.json) io.out(JSON.stringify(answer.body, null, 2));
    else for (const line of registerSummary(answer.body as RegisterJson)) io.out(line);
    return EXIT.ok;
  },
};
