// Static checks of the docker compose stack (no Docker needed): pinned images, healthchecks,
// ordered start-up, every required service variable set, no secrets in plain text, Grafana
// hardening and offline maps, loopback-only ports, and dashboards that query measurements the
// writer writes and metrics the services define. (The e2e test runs every dashboard query
// against real InfluxDB and Prometheus.)
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { createMetricsRegistry } from '@lethe/observability';
import { COMPOSE_SECRETS } from '../../scripts/compose-secrets.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');

interface Service {
  image?: string;
  build?: unknown;
  command?: string | string[];
  environment?: Record<string, string | number | boolean | null> | string[];
  healthcheck?: { test?: string | string[]; disable?: boolean };
  depends_on?: string[] | Record<string, { condition?: string }>;
  ports?: Array<string | { host_ip?: string; published?: string | number }>;
  restart?: string;
  secrets?: Array<string | { source: string; target?: string }>;
  volumes?: Array<string | { source?: string; target?: string }>;
}
interface Compose {
  services: Record<string, Service>;
  secrets?: Record<string, { file?: string; environment?: string }>;
  volumes?: Record<string, unknown>;
}

const composeText = read('docker-compose.yml');
const compose = parse(composeText, { merge: true }) as Compose;
const services = Object.entries(compose.services);

/** The Lethe services and the directory of their sources. */
const LETHE_SERVICES = ['gateway', 'keyring', 'processor', 'writer', 'api', 'simulator'] as const;
/** Jobs that run once and exit; everything else runs until stopped. */
const ONE_SHOT = new Set(['secrets', 'influx-init']);

function env(service: Service): Record<string, string> {
  const e = service.environment ?? {};
  if (Array.isArray(e)) return Object.fromEntries(e.map((kv) => [kv.split('=')[0]!, kv.slice(kv.indexOf('=') + 1)]));
  return Object.fromEntries(Object.entries(e).map(([k, v]) => [k, v === null ? '' : String(v)]));
}

/** Keys of the zod object in a service's config.ts that have neither a default nor are optional. */
function requiredConfigKeys(service: string): string[] {
  const source = read(`services/${service}/src/config.ts`);
  const keys: string[] = [];
  // A key's definition runs to the next key (it may span lines, as the formatter wraps it).
  const starts = [...source.matchAll(/^\s+([A-Z][A-Z0-9_]+):/gm)];
  starts.forEach((match, i) => {
    const definition = source.slice(match.index + match[0].length, starts[i + 1]?.index ?? source.length);
    if (!/\.default\(|\.optional\(\)/.test(definition)) keys.push(match[1]!);
  });
  return keys;
}

/** Variables the simulator reads without a fallback (it has no zod config). */
const SIMULATOR_REQUIRED = [['FLEET_SECRET', 'FLEET_SECRET_FILE']];

const MEASUREMENT_FIELDS: Record<string, string[]> = {
  lamppost: [
    'readings',
    'pm25_mean',
    'pm25_max',
    'pm10_mean',
    'pm10_max',
    'no2_mean',
    'no2_max',
    'noise_dba_mean',
    'lux_mean',
    'temperature_c_mean',
    'humidity_pct_mean',
    'dimming_pct_mean',
    'energy_wh_mean',
  ],
  traffic_light: ['readings', 'vehicle_count_sum', 'queue_length_mean'],
  sewer: ['readings', 'level_cm_mean', 'level_cm_max', 'flow_lps_mean', 'h2s_ppm_mean', 'h2s_ppm_max', 'temperature_c_mean', 'overflow_count_true'],
  pedestrians: ['people'],
  vehicles: ['people', 'speed_mean_kmh', 'speed_p85_kmh'],
  travel_times: ['trips', 'median_s'],
  dwell: ['people_dwell_lt_1m', 'people_dwell_1m_5m', 'people_dwell_5m_10m', 'people_dwell_ge_10m'],
  privacy: ['epsilon_spent_today', 'epsilon_budget_today', 'epsilon_this_release', 'released'],
};

describe('docker-compose.yml', () => {
  it('defines the infrastructure, the Lethe services and the init job', () => {
    for (const name of ['mosquitto', 'kafka', 'influxdb', 'influx-init', 'grafana', 'prometheus', ...LETHE_SERVICES]) {
      expect(compose.services, name).toHaveProperty(name);
    }
  });

  it('pins every image to a tag other than latest', () => {
    for (const [name, service] of services) {
      if (service.image === undefined) {
        expect(service.build, `${name} has neither image nor build`).toBeDefined();
        continue;
      }
      // Built locally (by the secrets job's build:), the tag names the local build.
      if (service.build !== undefined || service.image === 'lethe:local') continue;
      const image = service.image;
      expect(image, name).not.toContain('${'); // not chosen by the environment
      const lastSegment = image.split('/').pop()!;
      const tag = lastSegment.includes('@') ? undefined : lastSegment.split(':')[1];
      expect(tag ?? lastSegment.split('@')[1], `${name}: ${image} has no tag`).toBeTruthy();
      expect(tag, `${name}: ${image}`).not.toBe('latest');
      // A version, not a floating major like "2" (mosquitto:2.0.21, influxdb:2.7.12, v3.5.0 ...).
      if (tag) expect(tag, `${name}: ${image}`).toMatch(/^v?\d+\.\d+(\.\d+)?/);
    }
  });

  it('builds the Lethe image once (the secrets job) and runs it in every Lethe service, selected by SERVICE', () => {
    // Several services building one tag at once collide; the others run the built image.
    const builders = Object.entries(compose.services)
      .filter(([, s]) => s.build !== undefined)
      .map(([n]) => n);
    expect(builders).toEqual(['secrets']);
    for (const name of ['secrets', 'influx-init']) expect(compose.services[name]!.image, name).toBe('lethe:local');
    expect((compose.services['influx-init'] as { pull_policy?: string }).pull_policy).toBe('never');
    for (const name of LETHE_SERVICES) {
      const service = compose.services[name]!;
      expect(service.image, name).toBe('lethe:local');
      expect((service as { pull_policy?: string }).pull_policy, name).toBe('never');
      expect(env(service).SERVICE, name).toBe(name);
    }
    expect(compose.services.secrets!.command).toEqual(['node', 'scripts/compose-secrets.ts', '--held', '/held', '--into', '/volumes']);
    expect(compose.services['influx-init']!.command).toEqual([
      'node',
      'scripts/influx-init.ts',
      '--writer-out',
      '/writer-token',
      '--reader-out',
      '/reader-token',
    ]);
  });

  it('gives every long-running service a healthcheck', () => {
    for (const [name, service] of services) {
      if (ONE_SHOT.has(name)) {
        expect(service.restart, `${name} is a one-shot job`).toBe('no');
        continue;
      }
      expect(service.healthcheck?.test, `${name} has no healthcheck`).toBeDefined();
      expect(service.healthcheck?.disable, name).not.toBe(true);
    }
  });

  it('checks the Lethe services through /readyz on their HTTP port', () => {
    for (const name of ['gateway', 'keyring', 'processor', 'writer', 'api'] as const) {
      const test = JSON.stringify(compose.services[name]!.healthcheck!.test);
      const port = name === 'api' ? '8080' : '9464';
      expect(test, name).toContain(`127.0.0.1:${port}/readyz`);
    }
  });

  it('orders start-up with conditions on every dependency', () => {
    for (const [name, service] of services) {
      if (service.depends_on === undefined) continue;
      expect(Array.isArray(service.depends_on), `${name}: depends_on must be a map with conditions`).toBe(false);
      for (const [dependency, spec] of Object.entries(service.depends_on as Record<string, { condition?: string }>)) {
        expect(compose.services, `${name} depends on unknown ${dependency}`).toHaveProperty(dependency);
        const expected = ONE_SHOT.has(dependency) ? 'service_completed_successfully' : 'service_healthy';
        expect(spec.condition, `${name} → ${dependency}`).toBe(expected);
      }
    }
  });

  it('sets every variable a Lethe service requires (directly or as NAME_FILE)', () => {
    for (const name of ['gateway', 'keyring', 'processor', 'writer', 'api'] as const) {
      const required = requiredConfigKeys(name);
      expect(required.length, `${name}: no required keys parsed from config.ts`).toBeGreaterThan(0);
      const vars = env(compose.services[name]!);
      for (const key of required) {
        const set = key in vars || `${key}_FILE` in vars;
        expect(set, `${name} needs ${key} or ${key}_FILE`).toBe(true);
        expect(key in vars && `${key}_FILE` in vars, `${name}: both ${key} and ${key}_FILE`).toBe(false);
      }
    }
    const simulator = env(compose.services.simulator!);
    for (const alternatives of SIMULATOR_REQUIRED) {
      expect(
        alternatives.some((k) => k in simulator),
        `simulator needs one of ${alternatives.join(', ')}`,
      ).toBe(true);
    }
    expect(simulator.MQTT_URL).toBe('mqtt://mosquitto:1883');
  });

  it('points *_FILE variables at the secrets the job gives that service, or at the token volume', () => {
    for (const [name, service] of services) {
      const volumeTargets = (service.volumes ?? []).map((v) => (typeof v === 'string' ? v.split(':')[1]! : v.target!));
      for (const [key, value] of Object.entries(env(service))) {
        if (!/_FILE$|__FILE$/.test(key)) continue;
        if (value.startsWith('/run/secrets/')) {
          expect(volumeTargets, `${name}: ${key}=${value}, but /run/secrets is not mounted`).toContain('/run/secrets');
          expect(COMPOSE_SECRETS[name]?.files ?? [], `${name}: ${key}=${value} is not among the files the secrets job gives ${name}`).toContain(
            value.slice('/run/secrets/'.length),
          );
        } else
          expect(
            volumeTargets.some((t) => value.startsWith(`${t}/`)),
            `${name}: ${key}=${value} is not mounted`,
          ).toBe(true);
      }
    }
  });

  it("mounts each service's secrets volume read-only at /run/secrets in that service alone, and in the job", () => {
    const mounts = new Map<string, string[]>();
    for (const [name, service] of services)
      for (const v of service.volumes ?? [])
        if (typeof v === 'string' && v.startsWith('secrets-')) mounts.set(v.split(':')[0]!, [...(mounts.get(v.split(':')[0]!) ?? []), `${name}:${v}`]);
    expect([...mounts.keys()].sort()).toEqual(
      Object.keys(COMPOSE_SECRETS)
        .map((n) => `secrets-${n}`)
        .sort(),
    );
    for (const name of Object.keys(COMPOSE_SECRETS)) {
      expect(mounts.get(`secrets-${name}`)!.sort(), name).toEqual(
        [`${name}:secrets-${name}:/run/secrets:ro`, `secrets:secrets-${name}:/volumes/${name}`].sort(),
      );
      // It starts only once the job has filled the volume.
      expect((compose.services[name]!.depends_on as Record<string, { condition: string }>).secrets, name).toEqual({
        condition: 'service_completed_successfully',
      });
    }
    const job = compose.services.secrets! as Service & { user?: string; network_mode?: string; cap_add?: string[] };
    expect([job.user, job.network_mode, job.cap_add]).toEqual(['root', 'none', ['CHOWN', 'DAC_OVERRIDE', 'FOWNER']]);
    expect(job.volumes).toContainEqual({ type: 'bind', source: './secrets', target: '/held', bind: { create_host_path: false } });
  });

  it('uses the least-privilege InfluxDB tokens: write for the writer, read for the api', () => {
    expect(env(compose.services.writer!).INFLUX_TOKEN_FILE).toBe('/tokens/influxdb-writer-token');
    expect(env(compose.services.api!).INFLUX_TOKEN_FILE).toBe('/tokens/influxdb-reader-token');
    // Each token in a volume of its own, mounted only where it is used: the writer's can delete.
    const mounting = (volume: string) =>
      services
        .filter(([, s]) => ((s as { volumes?: unknown[] }).volumes ?? []).some((v) => typeof v === 'string' && v.split(':')[0] === volume))
        .map(([name]) => name)
        .sort();
    expect(mounting('influx-writer-token')).toEqual(['influx-init', 'writer']);
    expect(mounting('influx-reader-token')).toEqual(['api', 'grafana', 'influx-init']);
  });

  it('holds no plain-text passwords, tokens or keys', () => {
    const secretish = /(PASSWORD|TOKEN|SECRET|_KEY)(?!_FILE$|__FILE$)/;
    for (const [name, service] of services) {
      for (const [key, value] of Object.entries(env(service))) {
        if (secretish.test(key) && !/(_FILE|__FILE)$/.test(key)) {
          expect.fail(`${name}: ${key} must be given as a file (${key}_FILE), not as a value (${value.length} chars)`);
        }
      }
    }
    // No file secrets: the secrets job generates what ./secrets lacks and hands each service its
    // files in a volume of its own (scripts/compose-secrets.ts), so `up` needs no step before it.
    expect(compose.secrets, 'top-level secrets need their files before `docker compose up`').toBeUndefined();
    const given = new Set(Object.values(COMPOSE_SECRETS).flatMap((s) => s.files));
    for (const file of [
      'fleet-secret',
      'mqtt-gateway-password',
      'influxdb-admin-password',
      'influxdb-admin-token',
      'grafana-admin-password',
      'grafana-secret-key',
      'mosquitto-passwd',
    ]) {
      expect(given.has(file), file).toBe(true);
    }
    // Long random-looking literals anywhere in the file (a token pasted in by mistake).
    const randomLooking = [...composeText.matchAll(/[A-Za-z0-9_+/=-]{32,}/g)]
      .map((m) => m[0])
      .filter((s) => /[a-z]/.test(s) && /[A-Z]/.test(s) && /[0-9]/.test(s));
    expect(randomLooking).toEqual([]);
  });

  it('hardens Grafana', () => {
    const grafana = env(compose.services.grafana!);
    // Grafana's defaults are admin/admin and a published secret key: both come from ./secrets.
    expect(grafana.GF_SECURITY_ADMIN_PASSWORD__FILE).toBe('/run/secrets/grafana-admin-password');
    expect(grafana.GF_SECURITY_SECRET_KEY__FILE).toBe('/run/secrets/grafana-secret-key');
    expect(grafana).not.toHaveProperty('GF_SECURITY_ADMIN_PASSWORD');
    expect(grafana).not.toHaveProperty('GF_SECURITY_SECRET_KEY');
    expect(grafana).toMatchObject({
      // Nothing readable without a login, nobody can sign up or make an organisation.
      GF_AUTH_ANONYMOUS_ENABLED: 'false',
      GF_AUTH_BASIC_ENABLED: 'false',
      GF_USERS_ALLOW_SIGN_UP: 'false',
      GF_USERS_ALLOW_ORG_CREATE: 'false',
      // Snapshots and public dashboards are served without a login; external snapshots leave the city.
      GF_SNAPSHOTS_ENABLED: 'false',
      GF_SNAPSHOTS_EXTERNAL_ENABLED: 'false',
      GF_PUBLIC_DASHBOARDS_ENABLED: 'false',
      GF_SECURITY_COOKIE_SAMESITE: 'strict',
      GF_SECURITY_CONTENT_SECURITY_POLICY: 'true',
      GF_SECURITY_DISABLE_GRAVATAR: 'true',
      GF_PLUGINS_PLUGIN_ADMIN_ENABLED: 'false',
      GF_ANALYTICS_REPORTING_ENABLED: 'false',
    });
    // The datasource proxy reaches only the provisioned datasources.
    const { datasources } = parse(read('infra/grafana/provisioning/datasources/datasources.yaml')) as { datasources: Array<{ url: string }> };
    expect(grafana.GF_SECURITY_DATA_SOURCE_PROXY_WHITELIST!.split(' ').sort()).toEqual(datasources.map((d) => new URL(d.url).host).sort());
    const service = compose.services.grafana! as Service & { cap_drop?: string[]; security_opt?: string[] };
    expect(service.cap_drop).toEqual(['ALL']);
    expect(service.security_opt).toContain('no-new-privileges:true');
  });

  it('publishes only the api, Grafana and MQTT (for devices), on 127.0.0.1', () => {
    const published: string[] = [];
    for (const [name, service] of services) {
      for (const port of service.ports ?? []) {
        published.push(name);
        if (typeof port === 'string') expect(port, name).toMatch(/^127\.0\.0\.1:/);
        else expect(port.host_ip, name).toBe('127.0.0.1');
      }
    }
    expect(published.sort()).toEqual(['api', 'grafana', 'mosquitto']);
  });

  it('is valid against the Compose Specification schema', () => {
    // The schema ships with the docker-compose npm package (pinned in test/package.json).
    const schemaPath = createRequire(import.meta.url).resolve('docker-compose/schema/compose-spec.json');
    const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false, validateSchema: false });
    const validate = ajv.compile(JSON.parse(readFileSync(schemaPath, 'utf8')) as object);
    const valid = validate(compose);
    expect(validate.errors ?? [], JSON.stringify(validate.errors, null, 2)).toEqual([]);
    expect(valid).toBe(true);
  });
});

describe('Prometheus', () => {
  it('scrapes the Lethe services with an HTTP server', () => {
    type Job = {
      static_configs?: Array<{ targets: string[] }>;
      dns_sd_configs?: Array<{ names: string[]; type: string; port: number }>;
      relabel_configs?: unknown[];
    };
    const config = parse(read('infra/prometheus/prometheus.yml')) as { scrape_configs: Job[] };
    // Every replica by Docker's DNS (type A: one address per container), so `--scale` is scraped whole.
    const byDns = config.scrape_configs.flatMap((j) =>
      (j.dns_sd_configs ?? []).flatMap((d) => (expect(d.type).toBe('A'), d.names.map((n) => `${n}:${d.port}`))),
    );
    const targets = [...byDns, ...config.scrape_configs.flatMap((j) => (j.static_configs ?? []).flatMap((s) => s.targets))];
    expect(targets).toEqual(expect.arrayContaining(['gateway:9464', 'processor:9464', 'writer:9464', 'keyring:9464', 'api:8080']));
    for (const job of config.scrape_configs)
      if (job.dns_sd_configs)
        expect(job.relabel_configs, 'the DNS name as the service label').toEqual([{ source_labels: ['__meta_dns_name'], target_label: 'service' }]);
    for (const target of targets) {
      const host = target.split(':')[0]!;
      if (host !== '127.0.0.1') expect(compose.services, target).toHaveProperty(host);
    }
  });
});

describe('Grafana provisioning', () => {
  it('provisions the InfluxDB (Flux, read token from file) and Prometheus datasources', () => {
    const { datasources } = parse(read('infra/grafana/provisioning/datasources/datasources.yaml')) as {
      datasources: Array<{ uid: string; type: string; url: string; jsonData?: Record<string, unknown>; secureJsonData?: Record<string, string> }>;
    };
    const influx = datasources.find((d) => d.uid === 'influxdb')!;
    expect(influx.type).toBe('influxdb');
    expect(influx.jsonData?.version).toBe('Flux');
    expect(influx.jsonData?.organization).toBe('lethe');
    expect(influx.secureJsonData?.token).toBe('$__file{/tokens/influxdb-reader-token}');
    const prometheus = datasources.find((d) => d.uid === 'prometheus')!;
    expect(prometheus.type).toBe('prometheus');
    expect(prometheus.url).toBe('http://prometheus:9090');
  });

  const dashboardDir = 'infra/grafana/dashboards';
  const dashboards = readdirSync(join(ROOT, dashboardDir)).filter((f) => f.endsWith('.json'));
  interface DashboardTarget {
    refId?: string;
    query?: string;
    expr?: string;
    datasource?: { uid?: string };
  }
  interface DashboardPanel {
    id: number;
    title: string;
    type: string;
    panels?: DashboardPanel[];
    datasource?: { uid?: string };
    targets?: DashboardTarget[];
  }
  interface DashboardJson {
    uid: string;
    panels: DashboardPanel[];
    templating?: { list: Array<{ name: string; datasource?: { uid?: string } }> };
  }
  const dashboardJson = (file: string) => JSON.parse(read(`${dashboardDir}/${file}`)) as DashboardJson;
  const allPanels = (d: DashboardJson) => d.panels.flatMap((p) => [p, ...(p.panels ?? [])]);

  it('has the city overview, pipeline health and privacy dashboards, each with its own uid', () => {
    expect(dashboards).toEqual(expect.arrayContaining(['city-overview.json', 'pipeline-health.json', 'privacy.json']));
    const uids = dashboards.map((f) => dashboardJson(f).uid);
    expect(new Set(uids).size).toBe(uids.length);
  });

  it('loads the dashboards from where compose mounts them', () => {
    const { providers } = parse(read('infra/grafana/provisioning/dashboards/dashboards.yaml')) as {
      providers: Array<{ type: string; options: { path: string } }>;
    };
    const mounts = (compose.services.grafana!.volumes ?? []).map((v) => (typeof v === 'string' ? v : `${v.source}:${v.target}`));
    for (const provider of providers) {
      expect(provider.type).toBe('file');
      expect(mounts).toContain(`./infra/grafana/dashboards:${provider.options.path}:ro`);
    }
  });

  it('uses only provisioned datasources, and unique panel ids', () => {
    const { datasources } = parse(read('infra/grafana/provisioning/datasources/datasources.yaml')) as { datasources: Array<{ uid: string }> };
    const provisioned = new Set(datasources.map((d) => d.uid));
    for (const file of dashboards) {
      const dashboard = dashboardJson(file);
      const used = [
        ...(dashboard.templating?.list ?? []).map((v) => v.datasource?.uid),
        ...allPanels(dashboard).flatMap((p) => [p.datasource?.uid, ...(p.targets ?? []).map((t) => t.datasource?.uid)]),
      ].filter((uid) => uid !== undefined);
      for (const uid of used) expect(provisioned, `${file} uses datasource ${uid}`).toContain(uid);
      const ids = allPanels(dashboard).map((p) => p.id);
      expect(new Set(ids).size, `${file}: panel ids`).toBe(ids.length);
    }
  });

  it("places the map's districts at the centroids of seeds/districts.json", () => {
    const map = allPanels(dashboardJson('city-overview.json')).find((p) => p.type === 'geomap');
    expect(map, 'the city overview has a geomap panel').toBeDefined();
    const query = map!.targets![0]!.query!;
    const rows = [...query.matchAll(/\{district: "([^"]+)", name: "([^"]+)", lat: ([\d.]+), lon: ([\d.]+)\}/g)].map((m) => ({
      id: m[1],
      name: m[2],
      lat: Number(m[3]),
      lon: Number(m[4]),
    }));
    const { districts } = JSON.parse(read('seeds/districts.json')) as { districts: Array<{ id: string; name: string; lat: number; lon: number }> };
    expect(rows).toEqual(districts.map(({ id, name, lat, lon }) => ({ id, name, lat, lon })));
  });

  // Grafana cannot run here (no image of it can be had), so these static checks are the proof
  // that its maps load nothing from the internet and that it calls nothing outside the stack.
  interface GeomapOptions {
    basemap?: { type?: string };
    layers?: Array<{ type: string; name?: string }>;
  }
  const geomapPanels = dashboards.flatMap((file) =>
    allPanels(dashboardJson(file))
      .filter((p) => p.type === 'geomap')
      .map((p) => ({ where: `${file}: ${p.title}`, options: (p as DashboardPanel & { options?: GeomapOptions }).options ?? {} })),
  );

  it('gives every map the offline basemap of the repository (infra/grafana/maps), which no panel can replace', () => {
    const grafana = env(compose.services.grafana!);
    // Every panel's basemap becomes the server's default, whatever the panel says.
    expect(grafana.GF_GEOMAP_ENABLE_CUSTOM_BASELAYERS).toBe('false');
    const base = JSON.parse(grafana.GF_GEOMAP_DEFAULT_BASELAYER_CONFIG ?? 'null') as { type?: string; config?: { src?: string } } | null;
    expect(base?.type).toBe('geojson');
    // Served by Grafana itself from /usr/share/grafana/public, where compose mounts the repository's file.
    const file = /^public\/maps\/([\w.-]+\.geojson)$/.exec(base?.config?.src ?? '')?.[1];
    expect(file, `src ${base?.config?.src}`).toBeDefined();
    const mounts = (compose.services.grafana!.volumes ?? []).map((v) => (typeof v === 'string' ? v : `${v.source}:${v.target}`));
    expect(mounts).toContain(`./infra/grafana/maps/${file}:/usr/share/grafana/public/maps/${file}:ro`);
    expect(existsSync(join(ROOT, 'infra/grafana/maps', file!)), `infra/grafana/maps/${file}`).toBe(true);
    expect(geomapPanels.length).toBeGreaterThan(0);
    for (const { where, options } of geomapPanels) {
      expect(options.basemap?.type ?? 'default', where).toBe('default');
      // Grafana also offers its tile maps (CARTO, ArcGIS, OpenStreetMap, XYZ, WMS) as data layers,
      // which the server setting does not cover: only layers drawn from query results.
      for (const layer of options.layers ?? []) expect(['markers', 'heatmap'], `${where}: layer ${layer.name} (${layer.type})`).toContain(layer.type);
    }
  });

  it("names no host outside the stack in Grafana's configuration: only its datasources", () => {
    const sources: Array<[string, string]> = [
      ['docker-compose.yml, grafana environment', JSON.stringify(env(compose.services.grafana!))],
      ...readdirSync(join(ROOT, 'infra/grafana'), { recursive: true, encoding: 'utf8' })
        .filter((f) => statSync(join(ROOT, 'infra/grafana', f)).isFile())
        .map((f): [string, string] => [`infra/grafana/${f}`, read(`infra/grafana/${f}`)]),
    ];
    const hosts = new Set<string>();
    for (const [where, text] of sources) {
      // Any scheme (http, https, ws, …), and scheme-relative //host.name (a Flux comment has a space after //).
      const urls = [...text.matchAll(/\b[a-z][a-z0-9+.-]*:\/\/([^\s/"'`:?#\\]+)/gi), ...text.matchAll(/(?<![\w:])\/\/([a-z0-9-]+(?:\.[a-z0-9-]+)+)/gi)];
      for (const [url, host] of urls) {
        expect(compose.services, `${where}: ${url}`).toHaveProperty(host!);
        hosts.add(host!);
      }
    }
    expect([...hosts].sort()).toEqual(['influxdb', 'prometheus']);
  });

  /**
   * Metric names the services register (every `create…Metrics(registry)` of each service's
   * src/metrics.ts, as built at start, names made from parts included) and their registries'
   * default process metrics.
   */
  async function definedMetrics(): Promise<Set<string>> {
    const names = new Set<string>(['up']);
    for (const service of readdirSync(join(ROOT, 'services'))) {
      const file = join(ROOT, `services/${service}/src/metrics.ts`);
      if (!existsSync(file)) continue;
      const module = (await import(file)) as Record<string, unknown>;
      for (const [name, create] of Object.entries(module)) {
        if (!/^create\w*Metrics$/.test(name) || typeof create !== 'function' || create.length !== 1) continue;
        const registry = createMetricsRegistry('static-check');
        create(registry);
        for (const metric of await registry.getMetricsAsJSON()) names.add(metric.name);
      }
    }
    return names;
  }

  it.each(dashboards)('%s: every panel queries a written measurement and field in "aggregates", or defined metrics', async (file) => {
    const dashboard = dashboardJson(file);
    expect(dashboard.uid).toBeTruthy();
    const panels = allPanels(dashboard).filter((p) => p.type !== 'row');
    expect(panels.length).toBeGreaterThan(0);
    const metrics = await definedMetrics();
    for (const panel of panels) {
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      for (const target of panel.targets!) {
        const uid = target.datasource?.uid ?? panel.datasource?.uid;
        if (uid === 'prometheus') {
          const expr = target.expr ?? '';
          // Label values use dots (lethe.sightings.v1, job=~"lethe.*"), so lethe_… is always a metric name.
          const used = [...expr.matchAll(/\b(lethe_[a-z0-9_]+|up(?=\{))/g)].map((m) => m[1]!.replace(/_(bucket|sum|count)$/, ''));
          expect(used.length, `${panel.title}: no metric in ${expr}`).toBeGreaterThan(0);
          for (const name of used) expect([...metrics], `${panel.title}: ${name} is not defined by any service`).toContain(name);
          continue;
        }
        expect(uid, panel.title).toBe('influxdb');
        const query = target.query ?? '';
        expect(query, panel.title).toContain('from(bucket: "aggregates")');
        expect(query, panel.title).toContain('range(start: v.timeRangeStart, stop: v.timeRangeStop)');
        // Graphs follow Grafana's window period; tables and maps show one row per series.
        if (panel.type === 'timeseries') expect(query, panel.title).toContain('v.windowPeriod');
        const measurements = [...query.matchAll(/_measurement\s*==\s*"([^"]+)"/g)].map((m) => m[1]!);
        const fields = [...query.matchAll(/_field\s*==\s*"([^"]+)"/g)].map((m) => m[1]!);
        expect(measurements.length, `${panel.title}: no measurement`).toBeGreaterThan(0);
        expect(fields.length, `${panel.title}: no field`).toBeGreaterThan(0);
        for (const m of measurements) expect(Object.keys(MEASUREMENT_FIELDS), panel.title).toContain(m);
        for (const f of fields) {
          expect(
            measurements.some((m) => MEASUREMENT_FIELDS[m]!.includes(f)),
            `${panel.title}: field ${f} is not written for ${measurements.join(', ')}`,
          ).toBe(true);
        }
      }
    }
  });
});
