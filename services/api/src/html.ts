// Server-side HTML without a framework: a tagged template that escapes every interpolated
// value unless it is already HTML made by this template, and the shared page layout. Pages
// load no third-party code and no inline script (the Content-Security-Policy forbids both).

export interface Html {
  readonly html: string;
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

const isHtml = (v: unknown): v is Html => typeof v === 'object' && v !== null && typeof (v as Html).html === 'string' && Object.keys(v).length === 1;

function render(value: unknown): string {
  if (value === undefined || value === null || value === false) return '';
  if (Array.isArray(value)) return value.map(render).join('');
  if (isHtml(value)) return value.html;
  return escapeHtml(String(value));
}

/** `html\`<p>${text}</p>\`` escapes `text`; nested `html` results and arrays of them are kept. */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0]!;
  values.forEach((v, i) => (out += render(v) + strings[i + 1]!));
  return { html: out };
}

/** Headers for every HTML page: no framing, no third-party anything, no referrer leaks. */
export const PAGE_HEADERS: Record<string, string> = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

export function page({ title, lang = 'en', body, scripts = [] }: { title: string; lang?: string; body: Html; scripts?: string[] }): string {
  return html`<!doctype html>
<html lang="${lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} — Lethe</title>
<link rel="stylesheet" href="/assets/lethe.css">
${scripts.map((s) => html`<script src="${s}" defer></script>`)}
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="site">
<nav aria-label="Lethe">
<a href="/register">Register</a>
<a href="/city">Live city</a>
<a href="/v1/transparency-report">Transparency report (JSON)</a>
<a href="/openapi.json">API description</a>
</nav>
</header>
<main id="main">
${body}
</main>
<footer class="site"><p>Lethe — a city that counts without tracking. Only anonymous aggregates are stored; see <a href="/register">the register</a>.</p></footer>
</body>
</html>
`.html;
}

export const STYLESHEET = `
:root { color-scheme: light dark; --fg: #1b1f24; --bg: #fdfdfc; --muted: #57606a; --line: #d0d7de; --accent: #0b6e4f; --warn: #9a6700; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --bg: #0d1117; --muted: #9da7b3; --line: #30363d; --accent: #3fb68b; --warn: #d29922; } }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.55 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
main, header.site nav, footer.site { max-width: 64rem; margin: 0 auto; padding: 0 1rem; }
header.site { border-bottom: 1px solid var(--line); }
header.site nav { display: flex; gap: 1.25rem; flex-wrap: wrap; padding: .75rem 1rem; }
a { color: var(--accent); }
.skip { position: absolute; left: -999px; }
.skip:focus { left: 1rem; top: 1rem; background: var(--bg); padding: .5rem; }
h1 { font-size: 1.9rem; margin: 1.5rem 0 .5rem; }
h2 { font-size: 1.35rem; margin-top: 2rem; border-bottom: 1px solid var(--line); padding-bottom: .25rem; }
h3 { font-size: 1.1rem; margin-bottom: .25rem; }
.lead { font-size: 1.1rem; color: var(--muted); }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; }
dl.facts dt { font-weight: 600; }
dl.facts dd { margin: 0; }
.sensor { border: 1px solid var(--line); border-radius: 6px; padding: 0 1rem 1rem; margin: 1rem 0; }
.figure { font-size: 1.4rem; font-weight: 600; }
.muted { color: var(--muted); }
.warn { color: var(--warn); }
code { font-size: .9em; }
footer.site { margin-top: 3rem; padding: 1rem; color: var(--muted); border-top: 1px solid var(--line); }
`;
