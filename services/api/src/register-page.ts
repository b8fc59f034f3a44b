// The public register as a web page for non-experts: per kind of sensor, what it measures,
// which personal data it sees and what happens to it, why (purposes, legal basis), for how
// long, and who is accountable; plus live figures that show the rules being kept. Everything
// comes from buildRegister(policy) — the same derivation that configures Kafka and InfluxDB —
// and the live figures, so the page cannot promise more than the pipeline enforces. How many
// copies Kafka keeps is what the brokers last reported (RegisterReplication), not the policy's.
import { REFUSAL_REASONS, type Register, type RegisterReplication, type RegisterSensor } from '@lethe/privacy';
import { html, page, type Html } from './html.ts';
import type { LiveFiguresSnapshot } from './live-figures.ts';

/** `pedestrian-flow-planning` → `Pedestrian flow planning`. */
export function readable(slug: string): string {
  const words = slug.replace(/[-_]+/g, ' ').trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

const REASON_TEXT: Record<(typeof REFUSAL_REASONS)[number], string> = {
  NOT_COLLECTED:
    'Lethe never had it: the field is dropped at the sensor gateway, or identifiers such as plates and phone addresses are replaced by pseudonyms before anything is stored.',
  EXPIRED: 'Lethe no longer has it: records about people are deleted after the time limit below.',
  UNLINKABLE:
    'Lethe cannot connect it to a person: pseudonyms change on a schedule and the old keys are destroyed, so nobody can tell whether two records are the same person.',
  OUT_OF_PURPOSE: 'It would serve a purpose the sensors were not installed for. Tracking or identifying a person is never one of them.',
};

/** 900000 → `15 minutes`: the register speaks to people, not to parsers. */
export function humanDuration(ms: number): string {
  for (const [unit, size] of [
    ['day', 86_400_000],
    ['hour', 3_600_000],
    ['minute', 60_000],
    ['second', 1000],
  ] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size} ${unit}${ms / size === 1 ? '' : 's'}`;
  }
  return `${ms / 1000} seconds`;
}

/** 1066000 → `17 min 46 s`, for limits that are not a whole unit. */
function minSec(ms: number): string {
  const s = Math.round(ms / 1000);
  return s % 60 === 0 || s < 60 ? humanDuration(s * 1000) : `${Math.floor(s / 60)} min ${s % 60} s`;
}

/** A schedule time: to the minute, or to the second when the window is shorter than a minute (the demo). */
const minute = (isoTime: string) => `${isoTime.replace('T', ' ').slice(0, isoTime.slice(17, 19) === '00' ? 16 : 19)} UTC`;

/** The figures about people: configuration, schedule and outcomes, never a count or a person's time (P9). */
function liveSection(register: Register, live: LiveFiguresSnapshot | undefined): Html {
  if (!live) return html`<p class="muted">Live figures are not available right now.</p>`;
  const ttl = register.rawData.ttl;
  const limitMs = live.rawData.limitSeconds * 1000;
  return html`<p class="muted">Figures about people as of <time datetime="${live.asOf}" id="live-as-of">${minute(live.asOf)}</time>: they are always given a little behind the clock and rounded to the schedule, so they cannot point at one person's moment.${
    live.unavailable.length > 0
      ? html` <span class="warn" id="live-unavailable" data-sources="${live.unavailable.join(' ')}">Not available now: ${live.unavailable.join(', ')}.</span>`
      : ''
  }</p>
<h3 id="raw-age-heading">Records about people are deleted on time</h3>
<p>Every record about a person is deleted ${humanDuration(ttl.ms)} after it was made; Kafka deletes in blocks, so it may stay up to <span id="raw-limit" data-limit-seconds="${live.rawData.limitSeconds}">${minSec(limitMs)}</span> in all.
Every ${humanDuration(live.rawData.checkEverySeconds * 1000)} a check looks at every record still held. It shows only whether all of them are younger than that, never how many there are or how old the oldest is: that would tell whether anyone was there.</p>
<table aria-labelledby="raw-age-heading" id="raw-age">
<thead><tr><th scope="col">Where</th><th scope="col">Every record younger than ${minSec(limitMs)}</th></tr></thead>
<tbody>
${live.rawData.topics.map(
  (t) =>
    html`<tr data-topic="${t.topic}"><th scope="row"><code>${t.topic}</code></th><td data-within-limit="${t.withinLimit === null ? '' : String(t.withinLimit)}" data-checks="${t.checks}">${t.withinLimit === null ? 'not checked' : t.withinLimit ? 'yes' : html`<strong class="warn">no</strong>`}</td></tr>`,
)}
</tbody>
</table>
<dl class="facts">
<dt>Retention periods attested</dt><dd><span id="retention-periods" data-count="${live.retention.periods}" data-all-within-limit="${live.retention.allWithinLimit === null ? '' : String(live.retention.allWithinLimit)}">${live.retention.periods}</span> <span class="muted">(one per ${humanDuration(ttl.ms)} and place, written to the audit log whether or not anything was deleted${live.retention.latestPeriodEnd ? html`; latest ended <time datetime="${live.retention.latestPeriodEnd}">${minute(live.retention.latestPeriodEnd)}</time>` : ''}${live.retention.allWithinLimit === true ? '' : live.retention.allWithinLimit === null ? html`; <strong class="warn">not all could be checked</strong>` : html`; <strong class="warn">some found a record held too long</strong>`})</span></dd>
<dt>Pseudonym keys destroyed</dt><dd><span class="figure" id="keys-destroyed" data-count="${live.keysDestroyed.total}">${live.keysDestroyed.total}</span>${live.keysDestroyed.latestEpochEnd ? html` <span class="muted">(latest for the period ending <time datetime="${live.keysDestroyed.latestEpochEnd}">${minute(live.keysDestroyed.latestEpochEnd)}</time>)</span>` : ''}</dd>
<dt>Data requests refused</dt><dd><span class="figure" id="requests-refused" data-count="${live.requests.refused}">${live.requests.refused}</span> <span class="muted">of ${live.requests.received} received; ${live.requests.refusedToday} today</span></dd>
<dt>Attempts at individual data</dt><dd><span id="routes-refused" data-count="${live.routesRefused}">${live.routesRefused}</span> <span class="muted">refused: requests to addresses or with parameters that would identify a person</span></dd>
</dl>
<h3 id="epsilon-heading">Privacy budget spent today</h3>
${
  live.epsilonToday === null
    ? html`<p class="muted" id="epsilon-unavailable">Not available right now.</p>`
    : live.epsilonToday.length === 0
      ? html`<p class="muted" id="epsilon-none">Nothing released about people yet today.</p>`
      : html`<table aria-labelledby="epsilon-heading" id="epsilon-today">
<thead><tr><th scope="col">Figure</th><th scope="col" class="num">ε spent</th><th scope="col" class="num">ε budget</th></tr></thead>
<tbody>
${live.epsilonToday.map((e) => html`<tr data-stream="${e.stream}"><th scope="row">${readable(e.stream)}</th><td class="num" data-epsilon-spent="${e.spentToday}">${e.spentToday}</td><td class="num">${e.budgetToday}</td></tr>`)}
</tbody>
</table>`
}`;
}

const REPLICATION_UNKNOWN: Record<Exclude<RegisterReplication['state'], 'read'>, string> = {
  'not-read': 'not read from the servers',
  'no-such-topic': 'not created yet',
  'read-failed': 'not known right now: the servers did not answer',
};

/** The copies Kafka keeps of the records about people, as its servers report them (unknown: said so, never guessed). */
function copiesSection(register: Register): Html {
  return html`<h3 id="copies-heading">Copies of records about people</h3>
<p>Kafka, the system the records pass through, may keep each of them on several servers so that none is lost when one fails. Every copy is personal data and is deleted on the same schedule. These figures are read from the servers themselves, not from the policy.</p>
<table aria-labelledby="copies-heading" id="copies">
<thead><tr><th scope="col">Where</th><th scope="col" class="num">Copies kept</th><th scope="col" class="num">Copies a record must reach to count as written</th><th scope="col">A copy that missed records may take over</th></tr></thead>
<tbody>
${register.topics
  .filter((t) => t.personal)
  .map((t) => {
    const r = t.replication;
    return r.state === 'read'
      ? html`<tr data-topic="${t.topic}" data-replication-state="read" data-replicas="${r.replicas}" data-min-insync-replicas="${r.minInsyncReplicas}" data-unclean-leader-election="${String(r.uncleanLeaderElection)}"><th scope="row"><code>${t.topic}</code></th><td class="num">${r.replicas}</td><td class="num">${r.minInsyncReplicas}</td><td>${r.uncleanLeaderElection ? html`<strong class="warn">yes (records may be lost)</strong>` : 'no'}</td></tr>`
      : html`<tr data-topic="${t.topic}" data-replication-state="${r.state}"><th scope="row"><code>${t.topic}</code></th><td colspan="3" class="muted">${REPLICATION_UNKNOWN[r.state]}</td></tr>`;
  })}
</tbody>
</table>`;
}

function sensorSection(s: RegisterSensor): Html {
  const p = s.processing;
  return html`<section class="sensor" id="sensor-${s.kind}" data-kind="${s.kind}" aria-labelledby="sensor-${s.kind}-title">
<h3 id="sensor-${s.kind}-title">${s.title}</h3>
<p>${s.description}</p>
<h4>What it measures</h4>
<ul>
${s.measures.map((m) => html`<li>${m.description ?? readable(m.field)}${m.unit ? html` (${m.unit})` : ''}${m.class === 'environmental' ? '' : html` — <em>${m.published}</em>`}</li>`)}
</ul>
<h4>Personal data it sees, and what happens to it</h4>
${
  s.personalData.length === 0
    ? html`<p data-personal-data="none">None.</p>`
    : html`<table>
<thead><tr><th scope="col">Data</th><th scope="col">What happens to it</th></tr></thead>
<tbody>
${s.personalData.map((d) => html`<tr data-field="${d.field}" data-treatment="${d.treatment}"><th scope="row">${d.description ?? readable(d.field)} <code>${d.field}</code></th><td>${d.handling}</td></tr>`)}
</tbody>
</table>`
}
<h4>Why, and for how long</h4>
<dl class="facts">
<dt>Purposes</dt><dd><ul class="purposes">${s.purposes.map((x) => html`<li data-purpose="${x}">${readable(x)}</li>`)}</ul></dd>
<dt>Legal basis</dt><dd>${s.legalBasis}</dd>
<dt>Records about people kept for</dt><dd data-ttl-ms="${s.rawDataTtl.ms}">at most ${humanDuration(s.rawDataTtl.ms)}${s.personalData.length === 0 ? ' (this sensor sends none)' : ''}</dd>
<dt>Pseudonyms change every</dt><dd data-epoch-ms="${p.pseudonymEpoch.ms}">${humanDuration(p.pseudonymEpoch.ms)}; the key of each period is destroyed when it ends</dd>
<dt>Figures are counted per</dt><dd data-window-ms="${p.window.ms}">${humanDuration(p.window.ms)}</dd>
<dt>Smallest group published</dt><dd data-k="${p.k}">${p.k} (a count of fewer people is withheld)</dd>
<dt>Privacy budget (ε)</dt><dd data-epsilon-per-release="${p.epsilonPerRelease}">${p.epsilonPerRelease} per published figure, at most ${p.epsilonPerDay} per day</dd>
<dt>Anonymous figures kept for</dt><dd>${humanDuration(s.storage.aggregatesRetention.ms)}</dd>
</dl>
</section>`;
}

export function registerPage(register: Register, live: LiveFiguresSnapshot | undefined): string {
  const body = html`<h1>What the city's sensors know about you</h1>
<p class="lead">This register lists every kind of sensor in the city's network, what it measures, what it learns about people and what happens to that, why, for how long, and who answers for it.
It is generated from the same policy file that configures the system (policy <code>${register.policy.id}</code>, version ${register.policy.version}), so it cannot promise more than is enforced.</p>

<section id="accountable" aria-labelledby="accountable-heading">
<h2 id="accountable-heading">Who is accountable</h2>
<dl class="facts">
<dt>Controller</dt><dd id="controller">${register.controller}</dd>
<dt>Contact</dt><dd><a id="contact" href="mailto:${register.contact}">${register.contact}</a></dd>
</dl>
</section>

<section id="in-short" aria-labelledby="in-short-heading">
<h2 id="in-short-heading">In short</h2>
<ul>
<li>Phone addresses (MACs) and licence plates are replaced by pseudonyms at the first server they reach and are never stored.</li>
<li>Pseudonyms change every ${humanDuration(Math.max(...register.sensors.map((x) => x.processing.pseudonymEpoch.ms)))}, and the keys that made them are destroyed, so nobody — the city included — can follow a phone or a car over time.</li>
<li>Records about people are deleted after at most ${humanDuration(register.rawData.ttl.ms)}. What is kept for ${humanDuration(register.aggregates.retention.ms)} are anonymous counts: groups of fewer than ${Math.min(...register.sensors.map((x) => x.processing.k))} people are never published, and published counts carry random noise (differential privacy).</li>
<li>Camera images, the names of Wi-Fi networks phones look for, and signal strengths are thrown away at once.</li>
</ul>
</section>

<section id="live" aria-labelledby="live-heading">
<h2 id="live-heading">Live figures</h2>
${liveSection(register, live)}
${copiesSection(register)}
</section>

<section id="sensors" aria-labelledby="sensors-heading">
<h2 id="sensors-heading">The sensors</h2>
${register.sensors.map(sensorSection)}
</section>

<section id="ask" aria-labelledby="ask-heading">
<h2 id="ask-heading">How to ask for data</h2>
<p>Anyone can download the anonymous figures: see <a href="/city">the live city page</a> and <code>GET /v1/aggregates</code> (<a href="/openapi.json">API description</a>).
Registered bodies (police, courts, researchers, journalists, city departments, vendors, residents) can file a formal request with <code>POST /v1/data-requests</code>.
Requests for data about an individual are always refused, with one or more of these reasons:</p>
<dl class="facts" id="refusal-reasons">
${REFUSAL_REASONS.map((r) => html`<dt><code>${r}</code></dt><dd data-reason="${r}">${REASON_TEXT[r]}</dd>`)}
</dl>
<p>Every request, every refusal and every download is written to a tamper-evident audit log. The <a href="/v1/transparency-report">transparency report</a> counts them by who asked and why they were refused.
Questions: <a href="mailto:${register.contact}">${register.contact}</a>.</p>
</section>

<section id="machine-readable" aria-labelledby="machine-heading">
<h2 id="machine-heading">Machine-readable</h2>
<ul>
<li><a href="/v1/register">/v1/register</a> — this register as JSON</li>
<li><a href="/v1/policy">/v1/policy</a> — the policy it is derived from</li>
<li><a href="/v1/transparency-report">/v1/transparency-report</a> — requests and refusals</li>
</ul>
</section>`;
  return page({ title: 'Transparency register', body });
}
