// Prepares InfluxDB for Lethe with an operator/admin token: sets the aggregates bucket's
// retention from the policy (so it cannot drift from what the policy says) and creates the
// least-privilege tokens — the writer may only write the aggregates bucket, the api and
// Grafana may only read it. InfluxDB generates token values itself, so they are written to
// files for the services to read (*_FILE). Idempotent: existing tokens are found by their
// description and reused.
//
//   INFLUX_URL=… INFLUX_ADMIN_TOKEN=… node scripts/influx-init.ts --out secrets
//   … --writer-out /writer --reader-out /reader   # each token in its own directory (compose:
//                                                 # its own volume, mounted only where used)
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { aggregateRetentionSeconds, DEFAULT_POLICY_PATH, loadPolicy } from '@lethe/privacy';

export interface InfluxInitOptions {
  url: string;
  adminToken: string;
  org: string;
  bucket: string;
  policyPath?: string;
}

export interface InfluxTokens {
  writerToken: string;
  readerToken: string;
  bucketId: string;
  orgId: string;
}

async function call<T>(url: string, token: string, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(new URL(path, url), {
    method,
    headers: { authorization: `Token ${token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (res.status === 401) {
    // The one refusal a user meets: InfluxDB keeps the admin token of its first start in its
    // data, and secrets/influxdb-admin-token was generated again since (secrets/ deleted).
    throw new Error(
      `InfluxDB refused the admin token (401 on ${method} ${path}): it is not the token InfluxDB was set up with on its first start. ` +
        'InfluxDB keeps that token in its data volume; secrets/influxdb-admin-token has changed since (was secrets/ deleted and `pnpm run secrets` run again?). ' +
        'Either put the original secrets back, or start InfluxDB afresh with the new ones: `docker compose down -v` (deletes the stored aggregates and every other volume of the stack), then `docker compose up`. ' +
        'Natively (infra/local): `bash infra/local/down.sh influxdb`, remove .local/influxdb and .local/secrets/influxdb.env, and start it again.',
    );
  }
  if (!res.ok) throw new Error(`InfluxDB ${method} ${path} answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
  return (await res.json()) as T;
}

export async function initInflux({ url, adminToken, org, bucket, policyPath = DEFAULT_POLICY_PATH }: InfluxInitOptions): Promise<InfluxTokens> {
  const policy = loadPolicy(policyPath);
  const { orgs } = await call<{ orgs: Array<{ id: string; name: string }> }>(url, adminToken, 'GET', `/api/v2/orgs?org=${encodeURIComponent(org)}`);
  const orgId = orgs[0]?.id;
  if (!orgId) throw new Error(`InfluxDB has no organization "${org}"`);
  const { buckets } = await call<{ buckets: Array<{ id: string; name: string }> }>(
    url,
    adminToken,
    'GET',
    `/api/v2/buckets?orgID=${orgId}&name=${encodeURIComponent(bucket)}`,
  );
  const retentionRules = [{ type: 'expire', everySeconds: aggregateRetentionSeconds(policy) }];
  let bucketId = buckets[0]?.id;
  if (bucketId) {
    await call(url, adminToken, 'PATCH', `/api/v2/buckets/${bucketId}`, { retentionRules });
  } else {
    bucketId = (await call<{ id: string }>(url, adminToken, 'POST', '/api/v2/buckets', { orgID: orgId, name: bucket, retentionRules })).id;
  }

  const { authorizations } = await call<{ authorizations: Array<{ description?: string; token: string; status: string }> }>(
    url,
    adminToken,
    'GET',
    `/api/v2/authorizations?orgID=${orgId}`,
  );
  async function token(description: string, action: 'read' | 'write'): Promise<string> {
    const existing = authorizations.find((a) => a.description === description && a.status === 'active');
    if (existing) return existing.token;
    const created = await call<{ token: string }>(url, adminToken, 'POST', '/api/v2/authorizations', {
      orgID: orgId,
      description,
      permissions: [{ action, resource: { type: 'buckets', id: bucketId, orgID: orgId } }],
    });
    return created.token;
  }
  return {
    writerToken: await token(`lethe-writer: write ${bucket}`, 'write'),
    readerToken: await token(`lethe-reader: read ${bucket}`, 'read'),
    bucketId,
    orgId,
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { out: { type: 'string', default: 'secrets' }, 'writer-out': { type: 'string' }, 'reader-out': { type: 'string' } },
  });
  const url = process.env.INFLUX_URL;
  const adminToken =
    process.env.INFLUX_ADMIN_TOKEN ?? (process.env.INFLUX_ADMIN_TOKEN_FILE && readFileSync(process.env.INFLUX_ADMIN_TOKEN_FILE, 'utf8').trim());
  if (!url || !adminToken) throw new Error('Set INFLUX_URL and INFLUX_ADMIN_TOKEN (or INFLUX_ADMIN_TOKEN_FILE).');
  const tokens = await initInflux({
    url,
    adminToken,
    org: process.env.INFLUX_ORG ?? 'lethe',
    bucket: process.env.INFLUX_BUCKET ?? 'aggregates',
    ...(process.env.POLICY_FILE ? { policyPath: process.env.POLICY_FILE } : {}),
  });
  const write = (dir: string, name: string, token: string) => {
    const out = resolve(dir);
    if (!existsSync(out)) mkdirSync(out, { recursive: true, mode: 0o700 });
    writeFileSync(join(out, name), token, { mode: 0o644 });
    return join(out, name);
  };
  const writer = write(values['writer-out'] ?? values.out!, 'influxdb-writer-token', tokens.writerToken);
  const reader = write(values['reader-out'] ?? values.out!, 'influxdb-reader-token', tokens.readerToken);
  console.log(`InfluxDB ready: bucket retention from the policy; writer token in ${writer}, reader token in ${reader}`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: unknown) => {
    console.error(`influx-init: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
