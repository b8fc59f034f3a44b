// Merges the partials of one window from every input partition into the figures of the whole
// window. Everything in a partial is additive: counts and histogram bins add up, environmental
// accumulators merge (sum, n, min, max). The inputs are merged in partition order, so the result
// does not depend on the order the partials arrived in.
//
// A device's readings all land in one partition (readings are keyed by device id), so a device
// normally appears in one partial and its accumulator is taken as is; district figures are then
// computed from the device accumulators in device order, exactly as a single instance does, so
// even floating-point sums are bit-identical with 1 or N partitions. (Adding per-partition
// district sums instead would associate the additions differently.)
import type { CellPartial, DevicePartial, DwellPartial, TripPartial, WindowPartialRecord } from '@lethe/schemas';

type Of<T extends WindowPartialRecord['type']> = WindowPartialRecord & { type: T };

const byPartition = <T extends { partition: number }>(partials: readonly T[]) => [...partials].sort((a, b) => a.partition - b.partition);
const byKey = <T>(m: Map<string, T>) => [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
const addBins = (into: number[], from: readonly number[]) => from.forEach((n, i) => (into[i] = (into[i] ?? 0) + n));

function mergeDevice(into: DevicePartial, from: DevicePartial): DevicePartial {
  const numeric = { ...into.numeric };
  for (const [name, num] of Object.entries(from.numeric)) {
    const acc = numeric[name];
    numeric[name] = acc ? { sum: acc.sum + num.sum, n: acc.n + num.n, min: Math.min(acc.min, num.min), max: Math.max(acc.max, num.max) } : { ...num };
  }
  const trues = { ...into.trues };
  for (const [name, n] of Object.entries(from.trues)) trues[name] = (trues[name] ?? 0) + n;
  const counts = { ...into.counts };
  for (const [name, n] of Object.entries(from.counts)) counts[name] = (counts[name] ?? 0) + n;
  return { deviceId: into.deviceId, district: into.district, readings: into.readings + from.readings, numeric, trues, counts };
}

/** Every device of the window, by device id. */
export function mergeDevices(partials: readonly Of<'readings'>[]): DevicePartial[] {
  const devices = new Map<string, DevicePartial>();
  for (const p of byPartition(partials)) {
    for (const d of p.devices) {
      const current = devices.get(d.deviceId);
      // Only if a device moved partition within a window (a re-keyed producer, added partitions).
      devices.set(d.deviceId, current ? mergeDevice(current, d) : d);
    }
  }
  return byKey(devices);
}

/** People per cell (with their speed histograms) and trips per pair of junctions, over every partition. */
export function mergeSightings(partials: readonly Of<'sightings'>[]): { cells: CellPartial[]; trips: TripPartial[] } {
  const cells = new Map<string, CellPartial>();
  const trips = new Map<string, TripPartial>();
  for (const p of byPartition(partials)) {
    for (const c of p.cells) {
      const cell = cells.get(c.deviceId);
      if (!cell) cells.set(c.deviceId, { ...c, ...(c.speedBins ? { speedBins: [...c.speedBins] } : {}) });
      else {
        cell.people += c.people;
        if (c.speedBins) addBins((cell.speedBins ??= c.speedBins.map(() => 0)), c.speedBins);
      }
    }
    for (const t of p.trips) {
      const key = `${t.from}>${t.to}`;
      const trip = trips.get(key);
      if (!trip) trips.set(key, { ...t, durationBins: [...t.durationBins] });
      else addBins(trip.durationBins, t.durationBins);
    }
  }
  return { cells: byKey(cells), trips: byKey(trips) };
}

/** People per dwell-time bucket and cell, over every partition. */
export function mergeDwell(partials: readonly Of<'dwell'>[]): DwellPartial[] {
  const cells = new Map<string, DwellPartial>();
  for (const p of byPartition(partials)) {
    for (const c of p.cells) {
      const cell = cells.get(c.deviceId);
      if (!cell) cells.set(c.deviceId, { ...c, buckets: [...c.buckets] });
      else addBins(cell.buckets, c.buckets);
    }
  }
  return byKey(cells);
}
