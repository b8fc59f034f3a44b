// Reads what Kafka's brokers really keep on disk (every broker's copy, in a cluster): the record
// batches (format v2) of every log segment of a topic, including segments already deleted by retention but not yet removed
// (renamed *.log.deleted until log.segment.delete.delay.ms has passed).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = new URL('../../', import.meta.url).pathname;
const SEGMENT_FILE = /^(\d{20})\.log(\.deleted)?$/;
/** Bytes before the first record of a v2 batch. */
const BATCH_HEADER = 61;

export interface KafkaLogDirOptions {
  /** The run directory of infra/local (default LETHE_LOCAL_DIR, else <repo>/.local). */
  localDir?: string;
  /** Brokers started by kafka.sh there (default LETHE_KAFKA_NODES, else 1: the single broker). */
  nodes?: number;
}

/** The `log.dirs` of a broker's server.properties. */
function logDirsOf(properties: string): string[] {
  if (!existsSync(properties)) {
    throw new Error(`Cannot find the Kafka broker's log directory: ${properties} does not exist. Set LETHE_TEST_KAFKA_LOG_DIRS to the brokers' log.dirs.`);
  }
  const line = readFileSync(properties, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('log.dirs='));
  if (!line) throw new Error(`${properties} has no log.dirs line.`);
  return line.slice('log.dirs='.length).trim().split(',');
}

/**
 * Each broker's log directories, by node id, as infra/local/kafka.sh configured them under the
 * run directory: the single broker (node 1, kafka/server.properties), or every node of a
 * cluster (LETHE_KAFKA_NODES=3: kafka-cluster/node-<i>/server.properties). A broker that is down
 * still has its directories listed: what it holds on disk counts.
 */
export function kafkaNodeLogDirs({ localDir, nodes }: KafkaLogDirOptions = {}): Map<number, string[]> {
  const dir = localDir ?? process.env.LETHE_LOCAL_DIR ?? join(ROOT, '.local');
  const count = nodes ?? Number(process.env.LETHE_KAFKA_NODES ?? 1);
  if (count === 1) return new Map([[1, logDirsOf(join(dir, 'kafka/server.properties'))]]);
  return new Map(Array.from({ length: count }, (_, i) => [i + 1, logDirsOf(join(dir, `kafka-cluster/node-${i + 1}/server.properties`))]));
}

/** The partition directories of a topic (`<topic>-<partition>`) in the given log directories. */
export function partitionDirs(logDirs: readonly string[], topic: string): string[] {
  const pattern = new RegExp(`^${topic.replaceAll('.', '\\.')}-\\d+$`);
  return logDirs.flatMap((dir) =>
    existsSync(dir)
      ? readdirSync(dir)
          .filter((d) => pattern.test(d))
          .map((d) => join(dir, d))
      : [],
  );
}

export interface SegmentOnDisk {
  /** File name, e.g. `00000000000000000042.log` or `….log.deleted`. */
  file: string;
  /** The partition, from its directory's name (`<topic>-<partition>`); NaN when read on its own. */
  partition: number;
  baseOffset: number;
  /** The offset after its last record (its last batch's base offset + last offset delta + 1), undefined when empty. */
  nextOffset?: number;
  batches: number;
  records: number;
  /** Oldest and newest record timestamps (ms), undefined when the segment is empty. */
  oldest?: number;
  newest?: number;
}

/** Zigzag varint/varlong as in Kafka's record format; returns [value, next position]. */
function readVarint(buf: Buffer, pos: number): [number, number] {
  let raw = 0;
  for (let shift = 0; ; shift += 7) {
    if (pos >= buf.length) throw new Error('truncated varint');
    const byte = buf[pos++]!;
    raw += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) break;
  }
  return [raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2, pos];
}

/**
 * Parses one segment file's v2 record batches (baseOffset int64, batchLength int32,
 * partitionLeaderEpoch int32, magic int8, crc uint32, attributes int16, lastOffsetDelta int32,
 * baseTimestamp int64, maxTimestamp int64, producerId int64, producerEpoch int16,
 * baseSequence int32, recordCount int32, records). For uncompressed batches every record's
 * timestampDelta is read too, so the oldest timestamp is exact even if a batch is not in time
 * order; compressed batches count with baseTimestamp. A batch still being written is ignored.
 * Returns undefined if the file vanished (deleted by the broker meanwhile).
 */
export function readSegment(path: string): SegmentOnDisk | undefined {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const file = path.slice(path.lastIndexOf('/') + 1);
  const partition = Number(/-(\d+)$/.exec(path.slice(0, path.lastIndexOf('/')))?.[1] ?? NaN);
  const segment: SegmentOnDisk = { file, partition, baseOffset: Number(SEGMENT_FILE.exec(file)?.[1] ?? NaN), batches: 0, records: 0 };
  for (let pos = 0; pos + BATCH_HEADER <= buf.length;) {
    const batchLength = buf.readInt32BE(pos + 8);
    if (batchLength <= 0) break; // preallocated, unwritten tail
    const end = pos + 12 + batchLength;
    if (end > buf.length) break; // being appended right now
    const magic = buf.readInt8(pos + 16);
    if (magic !== 2) throw new Error(`${path}: the batch at byte ${pos} has magic ${magic}; only record format v2 is understood`);
    const attributes = buf.readInt16BE(pos + 21);
    const lastOffsetDelta = buf.readInt32BE(pos + 23);
    const baseTimestamp = Number(buf.readBigInt64BE(pos + 27));
    const maxTimestamp = Number(buf.readBigInt64BE(pos + 35));
    const recordCount = buf.readInt32BE(pos + 57);
    let oldest = baseTimestamp;
    if ((attributes & 0x07) === 0) {
      let r = pos + BATCH_HEADER;
      for (let i = 0; i < recordCount; i++) {
        const [length, body] = readVarint(buf, r);
        const [timestampDelta] = readVarint(buf, body + 1); // after the record's attributes byte
        oldest = Math.min(oldest, baseTimestamp + timestampDelta);
        r = body + length;
      }
      if (r !== end) throw new Error(`${path}: the records of the batch at byte ${pos} end at ${r}, not at the batch end ${end}`);
    }
    segment.batches++;
    segment.records += recordCount;
    segment.oldest = Math.min(segment.oldest ?? Infinity, oldest);
    segment.newest = Math.max(segment.newest ?? -Infinity, maxTimestamp);
    segment.nextOffset = Math.max(segment.nextOffset ?? 0, Number(buf.readBigInt64BE(pos)) + lastOffsetDelta + 1);
    pos = end;
  }
  return segment;
}

/** Every segment of a topic on disk, live or deleted-but-not-yet-removed. */
export function segmentsOnDisk(logDirs: readonly string[], topic: string): SegmentOnDisk[] {
  const segments: SegmentOnDisk[] = [];
  for (const dir of partitionDirs(logDirs, topic)) {
    let files: string[];
    try {
      files = readdirSync(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    for (const file of files.filter((f) => SEGMENT_FILE.test(f))) {
      // Retention renames x.log to x.log.deleted; if that happened since readdir, read the new name.
      const segment = readSegment(join(dir, file)) ?? (file.endsWith('.log') ? readSegment(join(dir, `${file}.deleted`)) : undefined);
      if (segment) segments.push(segment);
    }
  }
  return segments;
}
