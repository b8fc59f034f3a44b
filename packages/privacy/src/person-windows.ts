// Per-person state of the stream processor, held for one pseudonym epoch at most. Sightings
// (a pseudonymous phone at a lamppost, a pseudonymous plate at a junction) are grouped by
// epoch; when a window of the epoch closes it yields the TRUE person-derived figures of that
// window (distinct people per cell, vehicle speeds, travel times between junctions), and
// when the epoch ends it yields dwell times and the whole epoch's state is dropped. True
// figures never leave the processor: the anonymizer turns them into released ones.
//
// Sightings come one per pseudonym, device and time slot, stamped with the slot's start
// (sighting-time.ts): "seen most often" below counts slots, and dwell and travel times are
// measured between slot starts.
//
// Contribution bounding, which both differential privacy and scale-out rely on: in a window
// each pseudonym counts in exactly one cell (where it was seen most often), gives one speed
// and at most one trip, and in an epoch one dwell time. So one person changes any count of a
// release by at most 1, and figures computed on disjoint sets of pseudonyms (partitions keyed
// by pseudonym) add up.
//
// Memory is bounded by people, not by sightings: sightings are kept one by one only while their
// window is open; once it is summarized, the epoch keeps of each pseudonym only its first and
// last sighting per cell (dwell times) and its latest sighting (where its next trip starts).
// Keeping every sighting of the epoch grows to 3.7 GB in the benchmark's 10-minute soak and makes
// each window's summary slower than the last. That naive form is kept on purpose as the reference
// model this file is checked against (test/support/naive-person-windows.ts,
// test/person-windows-model.test.ts): a deliberate copy of this file's logic but for the state it
// keeps, so the two may differ only there.
import type { SightingRecord, SightingSource } from '@lethe/schemas';
import { windowStart } from './windows.ts';

export interface Visit {
  deviceId: string;
  district: string;
  ts: number;
  speedKmh?: number;
}

export interface CellFigure {
  deviceId: string;
  district: string;
  /** Distinct people assigned to this cell. */
  people: number;
  /** Per person, the speed measured at this cell (vehicles only). */
  speeds: number[];
}

export interface TripFigure {
  from: string;
  fromDistrict: string;
  to: string;
  toDistrict: string;
  /** Per trip, the travel time in seconds. */
  durations: number[];
}

export interface DwellFigure {
  deviceId: string;
  district: string;
  /** Per person, the dwell time in seconds at the cell where they stayed longest. */
  dwells: number[];
}

export interface PersonWindowFigures {
  source: SightingSource;
  windowStart: number;
  windowEnd: number;
  cells: CellFigure[];
  trips: TripFigure[];
}

export interface EpochFigures {
  source: SightingSource;
  epochStart: number;
  epochEnd: number;
  dwell: DwellFigure[];
}

/** Where and when a pseudonym was seen. */
interface Sighted {
  deviceId: string;
  district: string;
  ts: number;
}

/** What an epoch keeps of one pseudonym beyond its open windows: a few numbers per cell it was seen at, not its sightings. */
interface PersonEpoch {
  /** Per cell, the first and last sighting in the epoch (dwell times). */
  spans: Map<string, { district: string; first: number; last: number }>;
  /** The latest sighting (by time, then cell) in the windows already summarized: where a trip into the next window starts. */
  before?: Sighted;
}

/** A window of the epoch not summarized yet: its sightings, one by one. */
interface OpenWindow {
  /** pseudonym:deviceId:slot, so a redelivered sighting, or a second record of its slot, counts once. */
  seen: Set<string>;
  people: Map<string, Visit[]>;
}

interface EpochState {
  source: SightingSource;
  start: number;
  end: number;
  windowMs: number;
  /** Windows of this epoch ending at or before this time have been summarized. */
  summarizedUpTo: number;
  people: Map<string, PersonEpoch>;
  /** By window start. */
  windows: Map<number, OpenWindow>;
}

export type SightingOutcome = 'accepted' | 'duplicate';

export interface PersonWindows {
  /** `emittedUpTo`: windows ending at or before it were already released (by this or a previous run). */
  add(record: SightingRecord, windowMs: number, epochMs: number, emittedUpTo: number): SightingOutcome;
  /** Figures of every window that ended by `cutoff`, and of every epoch that ended by it (whose state is then dropped). */
  closeDue(cutoff: number): { windows: PersonWindowFigures[]; epochs: EpochFigures[] };
  /** Pseudonyms held in memory now, over all open epochs. */
  pseudonymsHeld(): number;
  /** Sightings held one by one (those of windows not summarized yet). */
  sightingsHeld(): number;
  openEpochs(): number;
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

const byTime = (a: Sighted, b: Sighted) => a.ts - b.ts || (a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : 0);

/** Folds a sighting into what the epoch keeps of its pseudonym. Idempotent: a redelivered copy changes nothing. */
function remember(person: PersonEpoch, v: Sighted, summarized: boolean): void {
  const span = person.spans.get(v.deviceId);
  if (!span) person.spans.set(v.deviceId, { district: v.district, first: v.ts, last: v.ts });
  else {
    if (v.ts < span.first) {
      span.first = v.ts;
      span.district = v.district;
    }
    if (v.ts > span.last) span.last = v.ts;
  }
  if (summarized && (!person.before || byTime(v, person.before) > 0)) person.before = { deviceId: v.deviceId, district: v.district, ts: v.ts };
}

export function createPersonWindows(): PersonWindows {
  const epochs = new Map<string, EpochState>();

  function summarizeWindow(state: EpochState, start: number): PersonWindowFigures {
    const end = start + state.windowMs;
    const cells = new Map<string, CellFigure>();
    const trips = new Map<string, TripFigure>();
    const open = state.windows.get(start);
    state.windows.delete(start);
    for (const [pseudonym, inWindow] of open?.people ?? []) {
      const person = state.people.get(pseudonym)!;
      const main = mainCell(inWindow);
      let cell = cells.get(main.deviceId);
      if (!cell) cells.set(main.deviceId, (cell = { deviceId: main.deviceId, district: main.district, people: 0, speeds: [] }));
      cell.people++;
      const speeds = inWindow.filter((v) => v.deviceId === main.deviceId && v.speedKmh !== undefined).map((v) => v.speedKmh!);
      if (speeds.length > 0) cell.speeds.push(speeds.reduce((a, b) => a + b, 0) / speeds.length);

      if (state.source === 'plate') {
        // The first trip that arrives in this window: a move between two different junctions,
        // timed from the last sighting at the first (in this window, or the latest before it)
        // to the first sighting at the second.
        const ordered = [...inWindow].sort(byTime);
        const path: Sighted[] = person.before ? [person.before, ...ordered] : ordered;
        for (let i = 1; i < path.length; i++) {
          const from = path[i - 1]!;
          const to = path[i]!;
          if (to.deviceId === from.deviceId) continue;
          const id = `${from.deviceId}>${to.deviceId}`;
          let trip = trips.get(id);
          if (!trip) trips.set(id, (trip = { from: from.deviceId, fromDistrict: from.district, to: to.deviceId, toDistrict: to.district, durations: [] }));
          trip.durations.push((to.ts - from.ts) / 1000);
          break;
        }
      }
      // The window's sightings are done with: all the epoch needs of them now is its latest.
      remember(
        person,
        inWindow.reduce((latest, v) => (byTime(v, latest) > 0 ? v : latest)),
        true,
      );
    }
    const sorted = <T>(m: Map<string, T>) => [...m.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, v]) => v);
    return { source: state.source, windowStart: start, windowEnd: end, cells: sorted(cells), trips: sorted(trips) };
  }

  function summarizeEpoch(state: EpochState): EpochFigures {
    const cells = new Map<string, DwellFigure>();
    for (const person of state.people.values()) {
      let best: { deviceId: string; district: string; dwell: number } | undefined;
      for (const [deviceId, span] of person.spans) {
        const dwell = span.last - span.first;
        if (!best || dwell > best.dwell || (dwell === best.dwell && deviceId < best.deviceId)) best = { deviceId, district: span.district, dwell };
      }
      let cell = cells.get(best!.deviceId);
      if (!cell) cells.set(best!.deviceId, (cell = { deviceId: best!.deviceId, district: best!.district, dwells: [] }));
      cell.dwells.push(best!.dwell / 1000);
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
        epochs.set(id, (state = { source: record.source, start, end: start + epochMs, windowMs, summarizedUpTo: done, people: new Map(), windows: new Map() }));
      }
      let person = state.people.get(record.pseudonym);
      if (!person) state.people.set(record.pseudonym, (person = { spans: new Map() }));
      const visit: Visit = {
        deviceId: record.deviceId,
        district: record.district,
        ts: record.ts,
        ...(record.speedKmh === undefined ? {} : { speedKmh: record.speedKmh }),
      };
      const wStart = windowStart(record.ts, windowMs);
      if (wStart + windowMs <= state.summarizedUpTo) {
        // Its window is summarized already: it still counts for dwell times and later trips,
        // through summaries that a redelivered copy leaves unchanged.
        remember(person, visit, true);
        return 'accepted';
      }
      let open = state.windows.get(wStart);
      if (!open) state.windows.set(wStart, (open = { seen: new Set(), people: new Map() }));
      // The gateway writes one record per pseudonym, device and slot (sighting-time.ts); more copies of it are redeliveries.
      const seenId = `${record.pseudonym}:${record.deviceId}:${record.ts}`;
      if (open.seen.has(seenId)) return 'duplicate';
      open.seen.add(seenId);
      let visits = open.people.get(record.pseudonym);
      if (!visits) open.people.set(record.pseudonym, (visits = []));
      visits.push(visit);
      remember(person, visit, false);
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
          state.windows.clear();
          epochs.delete(id);
        }
      }
      return { windows, epochs: ended.filter((e) => e.dwell.length > 0) };
    },

    pseudonymsHeld: () => [...epochs.values()].reduce((n, s) => n + s.people.size, 0),
    sightingsHeld: () => [...epochs.values()].reduce((n, s) => n + [...s.windows.values()].reduce((m, w) => m + w.seen.size, 0), 0),
    openEpochs: () => epochs.size,
  };
}
