// The offline basemap of Grafana's city map (infra/grafana/maps/lethe-city.geojson, written by
// scripts/generate-basemap.ts): committed as the generator writes it from the seeds now, valid
// GeoJSON (RFC 7946), and a true partition of the map around the districts and devices. The
// compose wiring that makes it every geomap panel's base layer: test/unit/compose.test.ts.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BASEMAP_FILE, basemapText, boundingBox, voronoiCells, type Point } from '../../scripts/generate-basemap.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');

interface Feature {
  type: string;
  properties: { id: string; name: string };
  geometry: { type: string; coordinates: Point[][] };
}
const committed = read(BASEMAP_FILE);
const basemap = JSON.parse(committed) as { type: string; description: string; features: Feature[] };
const { districts } = JSON.parse(read('seeds/districts.json')) as { districts: Array<{ id: string; name: string; lat: number; lon: number }> };
const { devices } = JSON.parse(read('seeds/fleet.json')) as { devices: Array<{ id: string; district: string; lat: number; lon: number }> };

/** Twice the signed area (shoelace): positive for a counter-clockwise ring. */
function signedArea2(ring: readonly Point[]): number {
  let sum = 0;
  for (let i = 0; i + 1 < ring.length; i++) sum += ring[i]![0] * ring[i + 1]![1] - ring[i + 1]![0] * ring[i]![1];
  return sum;
}

/** Ray casting; the points tested here are metres away from any border. */
function inside(p: Point, ring: readonly Point[]): boolean {
  let crossings = 0;
  for (let i = 0; i + 1 < ring.length; i++) {
    const [a, b] = [ring[i]!, ring[i + 1]!];
    if (a[1] > p[1] !== b[1] > p[1] && p[0] < a[0] + ((p[1] - a[1]) / (b[1] - a[1])) * (b[0] - a[0])) crossings++;
  }
  return crossings % 2 === 1;
}

describe('voronoiCells', () => {
  it('splits a box between two sites along their bisector, counter-clockwise', () => {
    const [left, right] = voronoiCells(
      [
        [0.25, 0.5],
        [0.75, 0.5],
      ],
      { west: 0, south: 0, east: 1, north: 1 },
    );
    expect(left).toEqual([
      [0, 0],
      [0.5, 0],
      [0.5, 1],
      [0, 1],
    ]);
    expect(right).toEqual([
      [0.5, 0],
      [1, 0],
      [1, 1],
      [0.5, 1],
    ]);
  });
});

describe(BASEMAP_FILE, () => {
  it('is what scripts/generate-basemap.ts writes from the seeds now (run it after changing them)', () => {
    expect(committed).toBe(basemapText());
  });

  it('is a FeatureCollection of one closed, counter-clockwise polygon per district, marked as approximate', () => {
    expect(basemap.type).toBe('FeatureCollection');
    expect(basemap.description).toMatch(/approximate/i);
    expect(basemap.description).toMatch(/not official boundaries/i);
    expect(basemap.features.map((f) => f.properties)).toEqual(districts.map(({ id, name }) => ({ id, name })));
    for (const { type, geometry, properties } of basemap.features) {
      expect(type).toBe('Feature');
      expect(geometry.type).toBe('Polygon');
      expect(geometry.coordinates, properties.id).toHaveLength(1);
      const ring = geometry.coordinates[0]!;
      expect(ring.length, properties.id).toBeGreaterThanOrEqual(4);
      expect(ring.at(-1), `${properties.id}: closed`).toEqual(ring[0]);
      expect(signedArea2(ring), `${properties.id}: counter-clockwise`).toBeGreaterThan(0);
      for (const [i, p] of ring.entries()) {
        expect(p).toHaveLength(2);
        for (const v of p) expect(Number(v.toFixed(5)), `${properties.id}: 5 decimals`).toBe(v);
        if (i > 0) expect(p, `${properties.id}: repeated position`).not.toEqual(ring[i - 1]);
      }
    }
  });

  it("puts each district's centroid in its own cell and in no other", () => {
    for (const district of districts) {
      const holders = basemap.features.filter((f) => inside([district.lon, district.lat], f.geometry.coordinates[0]!)).map((f) => f.properties.id);
      expect(holders, district.id).toEqual([district.id]);
    }
  });

  it('covers every device of the fleet, each in the cell of its own district', () => {
    for (const device of devices) {
      const holders = basemap.features.filter((f) => inside([device.lon, device.lat], f.geometry.coordinates[0]!)).map((f) => f.properties.id);
      expect(holders, device.id).toEqual([device.district]);
    }
  });

  it('tiles the box around the centroids and devices without gaps or overlaps', () => {
    const box = boundingBox([...districts, ...devices].map((d): Point => [d.lon, d.lat]));
    const boxArea = (box.east - box.west) * (box.north - box.south);
    const cellsArea = basemap.features.reduce((sum, f) => sum + signedArea2(f.geometry.coordinates[0]!) / 2, 0);
    // Rounding to 5 decimals moves each vertex by at most 5e-6°.
    expect(Math.abs(cellsArea - boxArea)).toBeLessThan(1e-6);
    // Within the box, so the areas summing to the box's leaves no room for a gap or an overlap.
    const [west, south, east, north] = [box.west, box.south, box.east, box.north].map((v) => Number(v.toFixed(5)));
    for (const f of basemap.features)
      for (const [lon, lat] of f.geometry.coordinates[0]!) {
        expect(lon, f.properties.id).toBeGreaterThanOrEqual(west!);
        expect(lon, f.properties.id).toBeLessThanOrEqual(east!);
        expect(lat, f.properties.id).toBeGreaterThanOrEqual(south!);
        expect(lat, f.properties.id).toBeLessThanOrEqual(north!);
      }
  });
});
