// What the demo prints at start: what to open, what runs, which policy and why, and how to try
// the command line against it (with the secrets of this run).
import type { DemoSecrets } from './secrets.ts';

export interface BannerFacts {
  httpUrl: string;
  mqttUrl: string;
  devices: { total: number; lamppost: number; 'traffic-light': number; sewer: number };
  scenario: string;
  rate: number;
  policyDescription: string;
  secrets: DemoSecrets;
  logLevel: string;
}

export function banner(f: BannerFacts): string {
  const police = f.secrets.tokens.find((t) => t.requester.id === 'hk-police-force') ?? f.secrets.tokens[0]!;
  const width = Math.max(...f.secrets.tokens.map((t) => t.requester.id.length));
  const simulator =
    f.rate > 0
      ? `Simulator: ${f.devices.total} devices (${f.devices.lamppost} lampposts, ${f.devices['traffic-light']} traffic lights, ${f.devices.sewer} sewer sensors), scenario ${f.scenario},\n` +
        `${f.rate.toFixed(1)} readings/s (each device every ${(f.devices.total / f.rate).toFixed(1)} s), publishing as the devices through the embedded MQTT broker.`
      : 'Simulator: off (RATE=0); publish readings by hand (below).';
  return `
Lethe demo — the whole pipeline in one process, no servers needed.

  Open  ${f.httpUrl}/register   what the city's sensors know about you, with live figures
        ${f.httpUrl}/city       the city, live: the latest anonymous figures per district
  API   ${f.httpUrl}/v1/aggregates?measurement=pedestrians&scope=district&start=-5m
        ${f.httpUrl}/v1/transparency-report    ${f.httpUrl}/openapi.json    ${f.httpUrl}/metrics

MQTT broker: ${f.mqttUrl} (embedded aedes; every device is its own user, and may publish only on its own topic).
${simulator}
${f.policyDescription}

Secrets for this run, generated at start (there are no default passwords), in ${f.secrets.dir} (removed at exit):
  fleet secret   ${f.secrets.fleetSecretFile}   (each device's MQTT password is derived from it)

Publish one reading by hand, as sewer sensor SW-0001 (checked against its schema before it is sent):
  FLEET_SECRET_FILE=${f.secrets.fleetSecretFile} pnpm lethe publish SW-0001 --url ${f.mqttUrl} levelCm=42.5 flowLps=160 h2sPpm=1.2 temperatureC=22.4 overflow=false

File a data request as ${police.requester.name} — asking where a car went is refused, with the reasons:
  LETHE_TOKEN_FILE=${police.file} pnpm lethe request --api ${f.httpUrl} --subject plate:'AB 1234' --data movements --purpose criminal-investigation
Read the register in the terminal:
  pnpm lethe register --api ${f.httpUrl}

Data-request tokens for this run (one per requester of seeds/requesters.yaml; also in ${f.secrets.dir}/token-<id>):
${f.secrets.tokens.map((t) => `  ${t.requester.id.padEnd(width)}  ${t.token}`).join('\n')}

Ctrl-C stops the demo. Logs are JSON on stderr (LOG_LEVEL=${f.logLevel}).
`;
}
