// `lethe request`: files a data request with the api (POST /v1/data-requests) as a registered
// requester, with its bearer token, and prints the decision: the links into the open data
// when it is answered, or every reason it is refused. The api drops a plate or MAC named in
// the subject unread; the decision and the refusal are audited and counted in the public
// transparency report.
import { parseArgs } from 'node:util';
import { INDIVIDUAL_DATA, SUBJECT_TYPES } from '@lethe/privacy';
import { EXIT, UsageError, type Command } from '../command.ts';
import { apiBase, ApiUnreachable, parseOrUsage, readSecret, requestJson } from '../options.ts';

const HELP = `Usage: lethe request --subject <subject> --purpose <purpose> [options]

Files a data request with a Lethe api as a registered requester and prints the decision. Lethe
answers requests for anonymous figures that serve a purpose of its policy (with links into the
open data) and refuses every request for data about an individual, giving every reason that
applies: NOT_COLLECTED, EXPIRED, UNLINKABLE, OUT_OF_PURPOSE. Every request and decision is
written to the audit log and counted in the transparency report.

Options:
  --subject <subject>   whom or what it is about: plate:<plate>, mac:<mac>, pseudonym:<p>,
                        device:<id>, district:<id> or city (a plate or MAC is sent as asked,
                        and the api drops it unread)
  --data <names>        comma-separated: movements, sightings, identity, raw-readings, images,
                        wifi-networks, signal-strength, vehicle-speeds, loop-speeds, or open-data
                        measurements (pedestrians, vehicles, travel_times, dwell, lamppost, …)
  --purpose <purpose>   a purpose of the policy (e.g. traffic-signal-optimisation) or one of
                        criminal-investigation, immigration-enforcement, national-security,
                        civil-litigation, insurance, marketing, journalism, research, other
  --level <level>       individual or aggregate (default: individual when the subject is a
                        person or --data names individual data, else aggregate)
  --from <time>         start: ISO 8601 (2026-06-01T10:00:00Z), now, or -30m, -2h, -7d (default -1h)
  --to <time>           end, same forms (default now)
  --api <url>           the api (env LETHE_API_URL, default http://127.0.0.1:8080)
  --token-file <path>   the requester's bearer token (else env LETHE_TOKEN or LETHE_TOKEN_FILE)
  --json                print the api's answer as JSON
  -h, --help            show this text

Exit code: 0 answered; 1 refused; 2 not filed (no or wrong token, invalid request, api unreachable).

Examples:
  LETHE_TOKEN_FILE=/tmp/lethe-demo-XXXX/token-hk-police-force lethe request --subject plate:'AB 1234' --data movements --purpose criminal-investigation --from -3h
  lethe request --token-file token --subject district:wan-chai --data pedestrians --purpose pedestrian-flow-planning --from -1h`;

const RELATIVE = /^-(\d{1,6})(s|m|h|d)$/;
const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** ISO 8601 with offset, `now`, or `-<n><s|m|h|d>` before now → ISO 8601. */
export function parseTime(text: string, flag: string, now = Date.now()): string {
  if (text === 'now') return new Date(now).toISOString();
  const rel = RELATIVE.exec(text);
  if (rel) return new Date(now - Number(rel[1]) * UNIT_MS[rel[2] as keyof typeof UNIT_MS]).toISOString();
  if (/^\d{4}-\d{2}-\d{2}T[\d:.]+(Z|[+-]\d{2}:\d{2})$/.test(text) && !Number.isNaN(Date.parse(text))) return text;
  throw new UsageError(`${flag} must be an ISO 8601 time with offset (2026-06-01T10:00:00Z), now, or a duration before now like -30m, -2h, -7d; not "${text}"`);
}

/** `--from -3h` → `--from=-3h`: parseArgs would take a value starting with a dash for an option. */
function joinRelativeTimes(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const next = args[i + 1];
    if ((arg === '--from' || arg === '--to') && next !== undefined && RELATIVE.test(next)) {
      out.push(`${arg}=${next}`);
      i++;
    } else out.push(arg);
  }
  return out;
}

export function parseSubject(text: string): Record<string, string> {
  const colon = text.indexOf(':');
  const type = colon < 0 ? text : text.slice(0, colon);
  const rest = colon < 0 ? undefined : text.slice(colon + 1);
  if (!(SUBJECT_TYPES as readonly string[]).includes(type))
    throw new UsageError(`--subject must start with one of ${SUBJECT_TYPES.join(', ')}, like district:wan-chai or plate:'AB 1234'`);
  if (type === 'city') {
    if (rest !== undefined) throw new UsageError('--subject city takes no id');
    return { type };
  }
  if (rest === undefined || rest === '')
    throw new UsageError(
      `--subject ${type} needs a value after the colon, like ${type === 'district' ? 'district:wan-chai' : type === 'device' ? 'device:LP-0001' : `${type}:…`}`,
    );
  return type === 'device' || type === 'district' ? { type, id: rest } : { type, value: rest };
}

interface Refused {
  decision: 'refused';
  level: string;
  reasons: string[];
  details: Array<{ reason: string; explanation: string }>;
}
interface Answered {
  decision: 'answered';
  links: string[];
  notes: string[];
}
type Decision = { requestId: string; receivedAt: string; requester: { id: string; type: string }; report: string } & (Refused | Answered);

export const request: Command = {
  name: ['request'],
  summary: 'file a data request as a registered requester and print the decision',
  example: "lethe request --subject plate:'AB 1234' --data movements --purpose criminal-investigation    (LETHE_TOKEN_FILE=…)",
  help: HELP,
  async run(args, io) {
    const { values } = parseOrUsage(() =>
      parseArgs({
        args: joinRelativeTimes(args),
        strict: true,
        options: {
          subject: { type: 'string' },
          data: { type: 'string' },
          purpose: { type: 'string' },
          level: { type: 'string' },
          from: { type: 'string', default: '-1h' },
          to: { type: 'string', default: 'now' },
          api: { type: 'string' },
          'token-file': { type: 'string' },
          json: { type: 'boolean', default: false },
        },
      }),
    );
    if (values.subject === undefined) throw new UsageError('--subject is required: whom or what the request is about (plate:…, district:wan-chai, city, …)');
    if (values.purpose === undefined) throw new UsageError('--purpose is required, e.g. criminal-investigation or traffic-signal-optimisation');
    const subject = parseSubject(values.subject);
    const data =
      values.data === undefined
        ? []
        : values.data
            .split(',')
            .map((d) => d.trim())
            .filter(Boolean);
    const individual = ['plate', 'mac', 'pseudonym'].includes(subject.type!) || data.some((d) => Object.hasOwn(INDIVIDUAL_DATA, d));
    const level = values.level ?? (individual ? 'individual' : 'aggregate');
    if (level !== 'individual' && level !== 'aggregate') throw new UsageError(`--level must be individual or aggregate, not "${level}"`);
    const now = Date.now();
    const body = { subject, level, data, purpose: values.purpose, from: parseTime(values.from, '--from', now), to: parseTime(values.to, '--to', now) };
    const base = apiBase(values.api, process.env);
    const token = readSecret('LETHE_TOKEN', values['token-file']);
    if (token === undefined)
      throw new UsageError(
        'a requester token is needed: set LETHE_TOKEN or LETHE_TOKEN_FILE, or give --token-file (`pnpm demo` prints tokens; `node scripts/setup-secrets.ts --issue-token <id>` issues one)',
      );

    let answer;
    try {
      answer = await requestJson(`${base}/v1/data-requests`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify(body),
      });
    } catch (err) {
      if (!(err instanceof ApiUnreachable)) throw err;
      io.err(`lethe request: ${err.message}`);
      return EXIT.error;
    }
    const reply = answer.body as Record<string, unknown>;
    if (answer.status === 401) {
      io.err(`lethe request: the api did not accept the token (HTTP 401). ${String(reply.explanation ?? '')}`.trim());
      return EXIT.error;
    }
    if (answer.status !== 200) {
      const problems = Array.isArray(reply.problems) ? reply.problems.map((p) => `\n  - ${String(p)}`).join('') : '';
      io.err(`lethe request: not filed, HTTP ${answer.status}: ${String(reply.error ?? 'error')}${problems}`);
      return EXIT.error;
    }
    const d = reply as unknown as Decision;
    if (values.json) io.out(JSON.stringify(d, null, 2));
    else {
      io.out(`Request ${d.requestId}, filed as ${d.requester.id} (${d.requester.type}) at ${d.receivedAt}`);
      if (d.decision === 'refused') {
        io.out(`Decision: REFUSED (${d.level}-level data) — ${d.reasons.join(', ')}`);
        for (const x of d.details) io.out(`  ${x.reason}: ${x.explanation}`);
      } else {
        io.out('Decision: ANSWERED from the open data (anonymous aggregates):');
        for (const link of d.links) io.out(`  ${base}${link}`);
        for (const note of d.notes) io.out(`  note: ${note}`);
      }
      io.out(`The request and the decision are in the audit log and counted in the transparency report: ${base}${d.report}`);
    }
    return d.decision === 'refused' ? EXIT.failed : EXIT.ok;
  },
};
