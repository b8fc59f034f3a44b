// Regenerates seeds/fleet.json from seeds/districts.json: a fixed number of devices per
// district, placed deterministically around the district centroid. Run with
// `node seeds/generate-fleet.ts` after changing the counts; the output is committed so the
// fleet (and the Mosquitto users derived from it) never changes by accident.
import { readFileSync, writeFileSync } from 'node:fs';

const PER_DISTRICT = { lamppost: 3, 'traffic-light': 2, sewer: 1 } as const;
const PREFIX = { lamppost: 'LP', 'traffic-light': 'TL', sewer: 'SW' } as const;

interface District {
  id: string;
  lat: number;
  lon: number;
}
const { districts } = JSON.parse(readFileSync(new URL('districts.json', import.meta.url), 'utf8')) as { districts: District[] };

const devices: Array<{ id: string; kind: string; district: string; lat: number; lon: number }> = [];
for (const kind of Object.keys(PER_DISTRICT) as Array<keyof typeof PER_DISTRICT>) {
  let n = 0;
  for (const district of districts) {
    for (let i = 0; i < PER_DISTRICT[kind]; i++) {
      n++;
      // Spread devices on a small ring (~300-600 m) around the centroid; rounding to 4
      // decimals (~11 m) keeps the file readable and stable.
      const angle = (2 * Math.PI * (i + 1)) / (PER_DISTRICT[kind] + 1) + kind.length;
      const radius = 0.003 + 0.001 * i;
      devices.push({
        id: `${PREFIX[kind]}-${String(n).padStart(4, '0')}`,
        kind,
        district: district.id,
        lat: Number((district.lat + radius * Math.sin(angle)).toFixed(4)),
        lon: Number((district.lon + radius * Math.cos(angle)).toFixed(4)),
      });
    }
  }
}
writeFileSync(new URL('fleet.json', import.meta.url), JSON.stringify({ devices }, null, 2) + '\n');
console.log(`wrote ${devices.length} devices to seeds/fleet.json`);
