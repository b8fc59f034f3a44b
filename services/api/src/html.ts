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
