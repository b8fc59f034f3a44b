// The straightforward form of person-windows.ts, the reference model of its property test
// (person-windows-model.test.ts): it keeps every sighting of the epoch and filters them again for
// each window. Slow and memory-hungry, but easy to check by reading; the compact implementation
// must give exactly its figures. A deliberate copy of src/person-windows.ts (mainCell, closeDue,
// the summaries) but for the state it keeps: the two may differ only there.
import type { SightingSource } from '@lethe/schemas';
import type { EpochFigures, PersonWindowFigures, PersonWindows, Visit, CellFigure, TripFigure, DwellFigure } from '../../src/person-windows.ts';
import { windowStart } from '../../src/windows.ts';

interface EpochState {
  source: SightingSource;
  start: number;
  end: number;
  windowMs: number;
  /** Windows of this epoch ending at or before this time have been summarized. */
  summarizedUpTo: number;
  /** deviceId:seq:index, so a redelivered sighting counts once. */
  seen: Set<string>;
  people: Map<string, Visit[]>;
}

/** The cell where a person was seen most often in the visits; ties go to the earliest, then the smaller id. */
function mainCell(visits: readonly Visit[]): Visit {
  const count = new Map<string, { n: number; first: Visit }>();
  for (const v of visits) {
    const c = count.get(v.deviceId);
    if (c) {
      c.n++;
      // The earliest sighting, not the first to arrive: records may arrive out of order, and the figures must not depend on it.
      if (v.ts < c.first.ts) c.first = v;
    } else count.set(v.deviceId, { n: 1, first: v });
  }
  let best: { n: number; first: Visit } | undefined;
  for (const c of count.values()) {
    if (!best || c.n > best.n || (c.n === best.n && (c.first.ts < best.first.ts || (c.first.ts === best.first.ts && c.first.deviceId < best.first.deviceId))))
      best = c;
  }
  return best!.first;
}

const byTime = (a: Visit, b: Visit) => a.ts - b.ts || (a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : 0);

export function createNaivePersonWindows(): PersonWindows {
  const epochs = new Map<string, EpochState>();

  function summarizeWindow(state: EpochState, start: number): PersonWindowFigures {
    const end = start + state.windowMs;
    const cells = new Map<string, CellFigure>();
    const trips = new Map<string, TripFigure>();
    for (const visits of state.people.values()) {
      const inWindow = visits.filter((v) => v.ts >= start && v.ts < end);
      if (inWindow.length === 0) continue;
      const main = mainCell(inWindow);
      let cell = cells.get(main.deviceId);
      if (!cell) cells.set(main.deviceId, (cell = { deviceId: main.deviceId, district: main.district, people: 0, speeds: [] }));
      cell.people++;
      const speeds = inWindow.filter((v) => v.deviceId === main.deviceId && v.speedKmh !== undefined).map((v) => v.speedKmh!);
      if (speeds.length > 0) cell.speeds.push(speeds.reduce((a, b) => a + b, 0) / speeds.length);

      if (state.source !== 'plate') continue;
      // The first trip that arrives in this window: a move between two different junctions,
      // timed from the last sighting at the first to the first sighting at the second.
      const ordered = visits.filter((v) => v.ts < end).sort(byTime);
      for (let i = 1; i < ordered.length; i++) {
        const from = ordered[i - 1]!;
        const to = ordered[i]!;
        if (to.deviceId === from.deviceId || to.ts < start) continue;
        const id = `${from.deviceId}>${to.deviceId}`;
        let trip = trips.get(id);
        if (!trip) trips.set(id, (trip = { from: from.deviceId, fromDistrict: from.district, to: to.deviceId, toDistrict: to.district, durations: [] }));
        trip.durations.push((to.ts - from.ts) / 1000);
        break;
      }
    }
    const sorted = <T>(m: Map<string, T>) => [...m.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, v]) => v);
    return { source: state.source, windowStart: start, windowEnd: end, cells: sorted(cells), trips: sorted(trips) };
  }

  function summarizeEpoch(state: EpochState): EpochFigures {
    const cells = new Map<string, DwellFigure>();
    for (const visits of state.people.values()) {
      const span = new Map<string, { first: Visit; last: number }>();
      for (const v of visits) {
        const s = span.get(v.deviceId);
        if (!s) span.set(v.deviceId, { first: v, last: v.ts });
        else {
          if (v.ts < s.first.ts) s.first = v;
          s.last = Math.max(s.last, v.ts);
        }
      }
      let best: { first: Visit; last: number } | undefined;
      for (const s of span.values()) {
        const d = s.last - s.first.ts;
        const bestD = best ? best.last - best.first.ts : -1;
        if (d > bestD || (d === bestD && best && s.first.deviceId < best.first.deviceId)) best = s;
      }
      let cell = cells.get(best!.first.deviceId);
      if (!cell) cells.set(best!.first.deviceId, (cell = { deviceId: best!.first.deviceId, district: best!.first.district, dwells: [] }));
      cell.dwells.push((best!.last - best!.first.ts) / 1000);
    }
    return {
      source: state.source,
      epochStart: state.start,
      epochEnd: state.end,
      dwell: [...cells.values()].sort((a, b) => (a.deviceId < b.deviceId ? -1 : 1)),
    };
  }

  return {
    add(record, windowMs, epochMs, emittedUpTo) {
      const start = windowStart(record.ts, epochMs);
      const id = `${record.source}|${start}`;
      let state = epochs.get(id);
      if (!state) {
        // After a restart the epoch is rebuilt from replayed sightings, but its windows that
        // were already released are not released again.
        const done = Math.min(start + epochMs, Math.max(start, start + Math.floor((emittedUpTo - start) / windowMs) * windowMs));
        epochs.set(id, (state = { source: record.source, start, end: start + epochMs, windowMs, summarizedUpTo: done, seen: new Set(), people: new Map() }));
      }
      const seenId = `${record.pseudonym}:${record.deviceId}:${record.ts}`;
      if (state.seen.has(seenId)) return 'duplicate';
      state.seen.add(seenId);
      let visits = state.people.get(record.pseudonym);
      if (!visits) state.people.set(record.pseudonym, (visits = []));
      visits.push({
        deviceId: record.deviceId,
        district: record.district,
        ts: record.ts,
        ...(record.speedKmh === undefined ? {} : { speedKmh: record.speedKmh }),
      });
      return 'accepted';
    },

    closeDue(cutoff) {
      const windows: PersonWindowFigures[] = [];
      const ended: EpochFigures[] = [];
      for (const [id, state] of [...epochs.entries()].sort(([, a], [, b]) => a.start - b.start)) {
        while (state.summarizedUpTo < state.end && state.summarizedUpTo + state.windowMs <= cutoff) {
          const figures = summarizeWindow(state, state.summarizedUpTo);
          if (figures.cells.length > 0 || figures.trips.length > 0) windows.push(figures);
          state.summarizedUpTo += state.windowMs;
        }
        if (state.end <= cutoff) {
          ended.push(summarizeEpoch(state));
          // The end of the epoch: everything known about its pseudonyms is forgotten.
          state.people.clear();
          state.seen.clear();
          epochs.delete(id);
        }
      }
      return { windows, epochs: ended.filter((e) => e.dwell.length > 0) };
    },

    pseudonymsHeld: () => [...epochs.values()].reduce((n, s) => n + s.people.size, 0),
    sightingsHeld: () => [...epochs.values()].reduce((n, s) => n + s.seen.size, 0),
    openEpochs: () => epochs.size,
  };
}
