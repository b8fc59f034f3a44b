// The policy the demo enforces. The shipped policy counts figures per 60 s window, so a fresh
// demo would show its first figure only after a minute or two. The demo therefore runs a copy
// of seeds/policy.yaml with 10 s windows and nothing else weaker: the raw-data TTL, the 15-minute
// pseudonym epochs, k and ε per release are the shipped ones. The daily ε cap is scaled with the
// window so that it still means what the shipped policy says it means — one release per window
// per stream per day (1440 × 60 s = 8640 × 10 s) — and the copy gets its own id, so the register
// and /v1/policy say which policy is in force. `DEMO_POLICY=shipped` runs seeds/policy.yaml as is.
import { readFileSync } from 'node:fs';
import { DEFAULT_POLICY_PATH, loadPolicy, parsePolicy, type Policy } from '@lethe/privacy';
import { DEVICE_KINDS } from '@lethe/schemas';
import { parse as parseYaml } from 'yaml';

export const DEMO_WINDOW = '10s';
const DAY_MS = 86_400_000;

export interface PolicyChoice {
  policy: Policy;
  /** One or two sentences for the startup text: which policy and why. */
  description: string;
}

interface PolicyDocument {
  id: string;
  kinds: Record<string, { window: string; epsilonPerDay: number }>;
}

export function demoPolicy(path = DEFAULT_POLICY_PATH): Policy {
  const shipped = loadPolicy(path);
  const doc = parseYaml(readFileSync(path, 'utf8')) as PolicyDocument;
  doc.id = `${shipped.id}-demo`;
  for (const kind of DEVICE_KINDS) {
    const k = doc.kinds[kind]!;
    const releasesPerDay = shipped.kinds[kind].epsilonPerDay / shipped.kinds[kind].epsilonPerRelease;
    const shippedWindows = DAY_MS / shipped.kinds[kind].window;
    k.window = DEMO_WINDOW;
    // Keep the cap's meaning: when the shipped cap pays for one release per window, so does this one.
    if (releasesPerDay === shippedWindows) k.epsilonPerDay = shipped.kinds[kind].epsilonPerRelease * (DAY_MS / 10_000);
  }
  return parsePolicy(doc, `${path} (demo copy)`);
}

export function choosePolicy(mode: 'demo' | 'shipped', file: string | undefined): PolicyChoice {
  if (file !== undefined) {
    return { policy: loadPolicy(file), description: `Policy: ${file}, as given in POLICY_FILE.` };
  }
  if (mode === 'shipped') {
    return {
      policy: loadPolicy(DEFAULT_POLICY_PATH),
      description: 'Policy: seeds/policy.yaml as shipped (60 s windows: the first figures appear after one to two minutes).',
    };
  }
  const policy = demoPolicy();
  const lamppost = policy.kinds.lamppost;
  return {
    policy,
    description:
      `Policy: "${policy.id}", a demo copy of seeds/policy.yaml with ${DEMO_WINDOW.replace('s', ' s')} windows instead of 60 s, so the first figures appear within about 20 s\n` +
      `instead of one to two minutes; its daily ε cap is scaled to ${lamppost.epsilonPerDay} so it still allows one release per window.\n` +
      `Everything else is the shipped policy: records about people kept at most ${policy.rawData.ttl / 60_000} min, pseudonym keys destroyed every ${lamppost.epoch / 60_000} min,\n` +
      `k = ${lamppost.k}, ε = ${lamppost.epsilonPerRelease} per release. DEMO_POLICY=shipped runs seeds/policy.yaml unchanged.`,
  };
}
