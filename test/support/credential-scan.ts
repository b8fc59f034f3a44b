// A scanner for default, example and committed credentials in the repository's runnable
// configuration: compose files, .env.example, the Dockerfile, infra/ (Mosquitto, Grafana,
// Prometheus, nginx, the native scripts), scripts/, seeds/, .ci/ and the sources of services
// and packages (where config defaults live). Secrets are generated at setup into git-ignored
// directories; nothing that works as a credential belongs in the repository, and neither do
// the well-known defaults (admin/admin, Grafana's published secret key) nor placeholders like
// "changeme", which end up deployed. test/unit/credential-scan.test.ts runs it.
//
// Rules look at values, not at words: `fleetSecret` or `GF_SECURITY_SECRET_KEY__FILE` are
// fine, `secret_key = <literal>` is not. References ($VAR, ${VAR}, $__file{…}, *_FILE paths)
// are never credentials themselves.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

export interface Finding {
  file: string;
  line: number;
  rule: string;
  /** The line with the suspicious value masked, safe to print. */
  excerpt: string;
}

export interface AllowEntry {
  file: string;
  rule: string;
  /** Why this one is deliberate (a test fixture, a documented example that cannot work). */
  reason: string;
}

interface Rule {
  id: string;
  /** Returns the offending substring of the line, or undefined. */
  match(line: string, file: string): string | undefined;
}

// Split so that this file itself does not carry the strings it looks for.
const GRAFANA_DEFAULT_SECRET_KEY = ['SW2YcwTI', 'b9zpOOho', 'PsMm'].join('');
const BEGIN = '-----' + 'BEGIN';
/** Placeholder and default values that get deployed as they are. */
const WEAK_VALUES = [
  'admin',
  'admin123',
  'administrator',
  'root',
  'toor',
  'password',
  'passw0rd',
  'password1',
  'password123',
  'changeme',
  'change-me',
  'change_me',
  'changeit',
  'secret',
  's3cr3t',
  'supersecret',
  'mysecret',
  'mysecretpassword',
  'letmein',
  'default',
  'example',
  'test',
  'test123',
  'guest',
  '123456',
  '12345678',
  'qwerty',
  'pass',
  'my-super-secret-auth-token',
  'my-super-secret-token',
  'your-token',
  'your_token',
  'xxx',
  'todo',
];
const CREDENTIAL_KEY = /(password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|secret[_-]?key|credentials?)/i;
/** A key that names where a secret is, not the secret. */
const REFERENCE_KEY = /(_FILE|__FILE|_PATH|_DIR|File|Path|Dir|_URL|_NAME|_ENV)$/;

/** A value that is a reference, empty, or obviously not a literal credential. */
function isReference(raw: string): boolean {
  const v = raw
    .trim()
    .replace(/^["'`]|["'`,;]+$/g, '')
    .trim();
  if (v === '' || v === '""' || v === "''") return true;
  if (/^(\$|%|<|\{\{|\(|\[|@|\/|\.\/|~|process\.env|env\.|config\.|values\.|options\.|opts\.|args\.)/.test(v)) return true;
  return /^(null|none|true|false|undefined|nil|required|optional)$/i.test(v);
}

function entropy(s: string): number {
  const counts = new Map<string, number>();
  for (const c of s) counts.set(c, (counts.get(c) ?? 0) + 1);
  let h = 0;
  for (const n of counts.values()) h -= (n / s.length) * Math.log2(n / s.length);
  return h;
}

/** In code, only quoted literals are values; `password: password` or `KEY: z.string()` are not. */
const isCode = (file: string) => /\.(ts|mts|cts|js|mjs|cjs)$/.test(file);

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const WEAK = new RegExp(`^(${WEAK_VALUES.map(escape).join('|')})$`, 'i');

export const RULES: readonly Rule[] = [
  { id: 'private-key', match: (l) => new RegExp(`${BEGIN} ([A-Z0-9]+ )*PRIVATE KEY-----`).exec(l)?.[0] },
  { id: 'certificate', match: (l) => new RegExp(`${BEGIN} (TRUSTED )?CERTIFICATE-----`).exec(l)?.[0] },
  { id: 'grafana-default-secret-key', match: (l) => (l.includes(GRAFANA_DEFAULT_SECRET_KEY) ? GRAFANA_DEFAULT_SECRET_KEY : undefined) },
  {
    // GF_SECURITY_ADMIN_PASSWORD / _SECRET_KEY and the InfluxDB setup password/token as values (the *_FILE forms are fine).
    id: 'literal-service-credential',
    match: (l, file) => {
      const m =
        /\b(GF_SECURITY_ADMIN_PASSWORD|GF_SECURITY_SECRET_KEY|DOCKER_INFLUXDB_INIT_PASSWORD|DOCKER_INFLUXDB_INIT_ADMIN_TOKEN|INFLUXDB_ADMIN_PASSWORD|KAFKA_SASL_PASSWORD|MQTT_PASSWORD)["']?\s*[:=]\s*(.*)$/.exec(
          l,
        );
      if (!m || isReference(m[2]!)) return undefined;
      // In code: a quoted literal, directly or as a zod default.
      if (isCode(file) && !/^["'`][^"'`$]+["'`]|\.default\(\s*["'`][^"'`$]+["'`]/.test(m[2]!.trim())) return undefined;
      return m[0];
    },
  },
  {
    id: 'admin-admin',
    // admin/admin, admin:admin (not `admin: Admin`, a type annotation), or a user and password both "admin".
    match: (l) =>
      /\b(admin|ADMIN|Admin)\s*[:/]\s*(admin|ADMIN)\b/.exec(l)?.[0] ??
      /(user(name)?|login)\W{0,3}\s*[:=]\s*["']?admin["']?.*pass(word)?\W{0,3}\s*[:=]\s*["']?admin\b/i.exec(l)?.[0],
  },
  {
    // key = weak value, in any syntax (YAML, env, ini, properties, JSON, code, flags).
    id: 'weak-or-placeholder-credential',
    match: (l, file) => {
      for (const m of l.matchAll(/([A-Za-z0-9_.-]*)["']?\s*(?:[:=]|\s--?[\w-]*\s)\s*(["'`]?)([^\s"'`,;)}\]]+)/g)) {
        const [, key = '', quote = '', value = ''] = m;
        if (isCode(file) && quote === '') continue;
        if (CREDENTIAL_KEY.test(key) && !REFERENCE_KEY.test(key) && WEAK.test(value)) return m[0];
      }
      for (const flag of l.matchAll(/(?:^|\s)-(?:P|p|-password|-pass)\s+["']?([^\s"']+)/g)) if (WEAK.test(flag[1]!)) return flag[0].trim();
      return /\b(changeme|change-me|changeit|letmein|s3cr3t|passw0rd|my-super-secret-(auth-)?token)\b/i.exec(l)?.[0];
    },
  },
  {
    // password = "literal" / password: 'literal' anywhere on a line (JAAS configs, code, INI).
    id: 'literal-password',
    match: (l) => {
      const m = /\b(password|passwd|pwd|secret|token|api[_-]?key|secret[_-]?key)\b["']?\s*[:=]\s*(["'`])([^"'`$\s{}]{4,})\2/i.exec(l);
      return m && !isReference(m[3]!) ? m[0] : undefined;
    },
  },
  {
    // KEY=value / key: value in config files where the key names a credential and the value is a literal.
    id: 'credential-assignment',
    match: (l, file) => {
      if (/\.(ts|js|mjs|cjs|json|md)$/.test(file)) return undefined; // code and docs: the quoted-literal rule covers them
      const m = /^\s*(?:export\s+|-\s+)?["']?([A-Za-z0-9_.-]+)["']?\s*[:=]\s*(.*)$/.exec(l);
      if (!m) return undefined;
      const [, key = '', value = ''] = m;
      if (!CREDENTIAL_KEY.test(key) || REFERENCE_KEY.test(key) || isReference(value)) return undefined;
      return m[0].trim();
    },
  },
  { id: 'credentials-in-url', match: (l) => /\b[a-z][a-z0-9+.-]*:\/\/([^\s/:@"'`$]+):([^\s/@"'`$]+)@/i.exec(l)?.[0] },
  { id: 'mosquitto-password-hash', match: (l) => /^[^\s:#]+:\$[67]\$\d+\$[A-Za-z0-9+/=]+\$/.exec(l)?.[0] },
  {
    id: 'known-token-format',
    match: (l) =>
      /\b(AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,}|xox[abprs]-[A-Za-z0-9-]{10,}|sk_live_[A-Za-z0-9]{20,}|AIza[0-9A-Za-z_-]{35}|glpat-[A-Za-z0-9_-]{20})\b/.exec(
        l,
      )?.[0],
  },
  {
    // A token that looks real: long, random (mixed case and digits, high entropy), not a hash pin.
    id: 'random-looking-token',
    match: (l) => {
      for (const m of l.matchAll(/(?<![A-Za-z0-9+/_=-])[A-Za-z0-9+/_=-]{32,}(?![A-Za-z0-9+/_=-])/g)) {
        // An environment variable's name is not part of its value: `KEY=value` is judged by its value.
        const key = /^[A-Z][A-Z0-9_]*=/.exec(m[0])?.[0] ?? '';
        const s = m[0].slice(key.length);
        const before = l.slice(0, m.index + key.length);
        if (/(sha256|sha512|sha1|integrity|digest)[:=\s"'-]*$/i.test(before)) continue;
        if (/[/-]/.test(s) && !/[A-Z]/.test(s.replace(/[^A-Za-z]/g, '').slice(1))) continue; // paths and kebab-case names
        if (/[a-z]/.test(s) && /[A-Z]/.test(s) && /[0-9]/.test(s) && entropy(s) > 4.2) return s;
      }
      return undefined;
    },
  },
];

/** The line with every longer word of the hit cut to its first 4 characters. */
function mask(line: string, hit: string): string {
  let out = line;
  for (const word of hit.split(/[\s:=,;"'`()[\]{}]+/)) {
    if (word.length > 6) out = out.split(word).join(`${word.slice(0, 4)}…(${word.length} chars)`);
  }
  return out.trim().slice(0, 160);
}

/** Every finding in one file's text. */
export function scanText(file: string, text: string, rules: readonly Rule[] = RULES): Finding[] {
  const findings: Finding[] = [];
  text.split('\n').forEach((line, i) => {
    for (const rule of rules) {
      const hit = rule.match(line, file);
      if (hit) findings.push({ file, line: i + 1, rule: rule.id, excerpt: mask(line, hit) });
    }
  });
  return findings;
}

/** Paths (relative to the root) that count as runnable configuration. */
export function isRunnableConfig(path: string): boolean {
  return (
    /^(docker-)?compose[\w.-]*\.ya?ml$/.test(path) ||
    /^\.env(\.[\w-]+)?$/.test(path) ||
    /(^|\/)Dockerfile[\w.-]*$/.test(path) ||
    /^(infra|scripts|seeds|\.ci)\//.test(path) ||
    /^(services|packages)\/[^/]+\/src\//.test(path)
  );
}

const NEVER = ['.git', 'node_modules', 'secrets', 'dist', 'coverage'];

/** The files git would commit (tracked or new, never ignored ones such as ./secrets), or a walk without git. */
export function repositoryFiles(root: string): string[] {
  try {
    const out = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return out.split('\0').filter((p) => p && statSync(join(root, p), { throwIfNoEntry: false })?.isFile());
  } catch {
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        if (NEVER.includes(e.name) || e.name.startsWith('.local')) continue;
        const path = join(dir, e.name);
        if (e.isDirectory()) walk(path);
        else if (e.isFile()) files.push(relative(root, path));
      }
    };
    walk(root);
    return files;
  }
}

/** Key material has no business anywhere in the repository, docs and tests included. */
export const EVERYWHERE_RULES = ['private-key', 'certificate', 'known-token-format', 'mosquitto-password-hash'];

export interface ScanResult {
  /** Files checked with every rule. */
  scanned: string[];
  /** Files checked for key material only (EVERYWHERE_RULES). */
  scannedForKeys: string[];
  findings: Finding[];
  /** Allowlist entries that matched nothing (stale). */
  unusedAllow: AllowEntry[];
}

export function scanRepository(root: string, allow: readonly AllowEntry[] = []): ScanResult {
  const files = repositoryFiles(root).sort();
  const scanned = files.filter(isRunnableConfig);
  const scannedForKeys = files.filter((f) => !isRunnableConfig(f));
  const keyRules = RULES.filter((r) => EVERYWHERE_RULES.includes(r.id));
  const used = new Set<AllowEntry>();
  const findings: Finding[] = [];
  for (const [list, rules] of [
    [scanned, RULES],
    [scannedForKeys, keyRules],
  ] as const) {
    for (const file of list) {
      const bytes = readFileSync(join(root, file));
      if (bytes.includes(0)) continue; // binary
      for (const f of scanText(file, bytes.toString('utf8'), rules)) {
        const entry = allow.find((a) => a.file === f.file && a.rule === f.rule);
        if (entry) used.add(entry);
        else findings.push(f);
      }
    }
  }
  return { scanned, scannedForKeys, findings, unusedAllow: allow.filter((a) => !used.has(a)) };
}
