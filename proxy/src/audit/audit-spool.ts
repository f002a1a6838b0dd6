/**
 * The audit spool: an append-only log on disk from which the shipper reads. Every event is written
 * (synchronously) before `append` returns, so it survives a crash or SIGKILL of the proxy; it leaves
 * the spool only after the control plane has acknowledged it.
 *
 * Layout of the spool directory:
 *   <16-digit segment number>.seg  records, each a 4-byte big-endian length then a protobuf AuditEvent
 *   cursor                         JSON {segment, offset}: everything before it is acknowledged
 *
 * Each process start opens a new segment, so a record torn by a crash can only be the last one of an
 * older segment, where the reader treats it as the segment's end. The spool is bounded: when it grows
 * past `maxBytes`, whole oldest segments are dropped and their events counted as lost. A closed
 * segment is `fsync`ed, and an acknowledged or dropped one deleted, on libuv's thread pool.
 *
 * `sync()` makes everything appended so far survive the loss of the machine too (`fdatasync`, for the
 * proxy's `disk` audit durability). Callers that arrive while a flush runs share the next one (group
 * commit), so the number of flushes follows the disk's pace, not the request rate.
 *
 * @module
 */
import {
  close,
  closeSync,
  existsSync,
  fdatasync,
  fstatSync,
  fsync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  statSync,
  unlink,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { releaseBuffer } from './release-buffer.ts';

export interface SpoolCursor {
  segment: number;
  offset: number;
}

/**
 * The bytes an appended record must keep free in front of its encoded event: the spool writes the
 * record's length there, so the whole record reaches the disk with one write and without a copy.
 */
export const SPOOL_RECORD_HEADROOM = 4;

export interface SpoolBatch {
  events: Uint8Array[];
  end: SpoolCursor;
  /**
   * Frees the memory the events are read into, at once; the events are empty afterwards. For a
   * batch that was acknowledged or dropped: a batch lives as long as its call to the control plane,
   * long enough to be promoted to V8's old generation, where its buffers would otherwise wait for a
   * major GC (about 3 MB of dead buffers at 1000 requests/s, measured).
   */
  release(): void;
}

export interface AuditSpool {
  /**
   * Writes one event, encoded as a protobuf AuditEvent behind `SPOOL_RECORD_HEADROOM` bytes that the
   * spool overwrites (see `encodeAuditEvent`). It is on disk (in the kernel's page cache) when this
   * returns. The spool does not decode the event: the caller vouches that the bytes are one.
   */
  append(record: Buffer): void;
  /**
   * Up to `max` unacknowledged events from the cursor, each an encoded AuditEvent exactly as spooled,
   * and the cursor just past them. Their bytes add up to at most `maxBytes`, unless the first event
   * alone is larger: it then comes alone.
   */
  read(max: number, maxBytes?: number): SpoolBatch;
  /** Marks everything before `end` (`count` events since the last ack) as delivered. */
  ack(end: SpoolCursor, count: number): void;
  /** Events written and not yet acknowledged. */
  pending(): number;
  /** Events dropped because the spool was full. */
  dropped(): number;
  /**
   * Resolves when every event appended before the call is on stable storage: its segment's data
   * (`fdatasync`), segments closed since (`fsync`) and the directory entries of new segments. Rejects
   * when a flush fails, and from then on every call rejects: after a failed flush the kernel may have
   * dropped the unwritten pages, so nothing appended since can be vouched for.
   */
  sync(): Promise<void>;
  /**
   * Resolves when the file work the spool does off the request path has finished: the `fsync` and
   * close of closed segments, and the deletion of acknowledged or dropped ones.
   */
  settled(): Promise<void>;
  close(): void;
}

export interface AuditSpoolOptions {
  dir: string;
  /** Upper bound of the spool on disk (default 64 MiB). */
  maxBytes?: number;
  /** A segment is closed and a new one started at this size (default 4 MiB). */
  segmentBytes?: number;
  onDrop?: (events: number) => void;
  /** A background `fsync` or deletion failed; the spool goes on (default: ignored). */
  onError?: (message: string, err: Error) => void;
  /** Each completed `sync()` flush, with how long it took (for the proxy's metrics). */
  onFlushed?: (seconds: number) => void;
  /** The flushes `sync()` and segment closing use; tests observe them (default: `node:fs`'s). */
  flushes?: { fdatasync: Flush; fsync: Flush };
}

type FlushCallback = (err: NodeJS.ErrnoException | null) => void;
type Flush = (fd: number, callback: FlushCallback) => void;
const SETTLED = Promise.resolve();

const HEADER = SPOOL_RECORD_HEADROOM;
/** No single event comes near this; a larger length can only be a torn or corrupt record. */
const MAX_RECORD = 16 * 1024 * 1024;
const READ_CHUNK = 1024 * 1024;

const segmentName = (n: number) => `${String(n).padStart(16, '0')}.seg`;

/** Parses the complete records of a buffer; stops at a torn or corrupt one. */
function* records(buf: Buffer, from: number): Generator<{ event: Uint8Array; end: number }> {
  let pos = from;
  while (pos + HEADER <= buf.length) {
    const len = buf.readUInt32BE(pos);
    if (len > MAX_RECORD || pos + HEADER + len > buf.length) return;
    yield { event: buf.subarray(pos + HEADER, pos + HEADER + len), end: pos + HEADER + len };
    pos += HEADER + len;
  }
}

export function openAuditSpool(options: AuditSpoolOptions): AuditSpool {
  const { dir } = options;
  const maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
  const segmentBytes = Math.min(options.segmentBytes ?? 4 * 1024 * 1024, maxBytes);
  mkdirSync(dir, { recursive: true, mode: 0o700 });

  const cursorPath = join(dir, 'cursor');
  // Segments whose deletion is under way are gone as far as the spool is concerned.
  const deleting = new Set<number>();
  const listSegments = () =>
    readdirSync(dir)
      .filter((f) => /^\d{16}\.seg$/.test(f))
      .map((f) => Number(f.slice(0, 16)))
      .filter((n) => !deleting.has(n))
      .sort((a, b) => a - b);
  const sizeOf = (n: number) => statSync(join(dir, segmentName(n))).size;
  const countIn = (n: number, from = 0) => {
    let count = 0;
    for (const _ of records(readFileSync(join(dir, segmentName(n))), from)) count++;
    return count;
  };

  let cursor: SpoolCursor = { segment: 0, offset: 0 };
  try {
    const c = JSON.parse(readFileSync(cursorPath, 'utf8')) as SpoolCursor;
    if (Number.isInteger(c.segment) && Number.isInteger(c.offset)) cursor = c;
  } catch {
    // No cursor yet: nothing has been acknowledged.
  }
  const existing = listSegments();
  if (existing.length > 0 && existing[0]! > cursor.segment) cursor = { segment: existing[0]!, offset: 0 };
  let pendingCount = 0;
  let totalBytes = 0;
  for (const n of existing) {
    totalBytes += sizeOf(n);
    if (n >= cursor.segment) pendingCount += countIn(n, n === cursor.segment ? cursor.offset : 0);
  }
  let droppedCount = 0;
  let active = (existing.at(-1) ?? cursor.segment) + 1;
  let activeFd = openSync(join(dir, segmentName(active)), 'a', 0o600);
  let activeSize = 0;
  const flushes = options.flushes ?? { fdatasync, fsync };
  const flushed = (flush: Flush, fd: number) =>
    new Promise<void>((resolve, reject) => flush(fd, (err) => (err ? reject(err) : resolve())));

  const cursorFd = openSync(cursorPath, existsSync(cursorPath) ? 'r+' : 'w+', 0o600);
  function persistCursor(): void {
    writeSync(cursorFd, `${JSON.stringify(cursor).padEnd(63)}\n`, 0, 'utf8');
  }

  // Flushing a closed 4 MiB segment takes milliseconds here, and so does deleting one: both run on
  // libuv's thread pool, so that no request waits behind them on the event loop.
  const background = new Set<Promise<void>>();
  function inBackground(work: Promise<void>): void {
    const done = work.finally(() => background.delete(done));
    background.add(done);
  }
  const failed = (message: string) => (err: Error) => options.onError?.(message, err);

  // What `sync()` has made durable, counted in appends; the flush under way and its waiters.
  let appended = 0;
  let synced = 0;
  let flushing: Promise<void> | undefined;
  let waiters: { upTo: number; resolve: () => void; reject: (err: Error) => void }[] = [];
  /** The `fsync`s of segments closed since the last flush began: the next flush waits for them. */
  let closing: Promise<void>[] = [];
  /** A segment was created since the last flush: its directory entry must be made durable too. */
  let newSegment = true;
  let syncFailure: Error | undefined;

  /** Flushes whatever was appended until now, then settles the waiters it covers. */
  function startFlush(): void {
    const upTo = appended;
    const started = performance.now();
    const parts = [flushed(flushes.fdatasync, activeFd), ...closing];
    closing = [];
    if (newSegment) {
      newSegment = false;
      const dirFd = openSync(dir, 'r');
      parts.push(flushed(flushes.fsync, dirFd).finally(() => closeSync(dirFd)));
    }
    const done = Promise.all(parts).then(
      () => {
        synced = upTo;
        flushing = undefined;
        options.onFlushed?.((performance.now() - started) / 1000);
        const covered = waiters.filter((w) => w.upTo <= upTo);
        waiters = waiters.filter((w) => w.upTo > upTo);
        for (const w of covered) w.resolve();
        if (waiters.length > 0) startFlush();
      },
      (err: Error) => {
        syncFailure = new Error(`could not flush the audit spool to disk: ${err.message}`, { cause: err });
        flushing = undefined;
        const all = waiters;
        waiters = [];
        for (const w of all) w.reject(syncFailure);
        failed('could not flush the audit spool to disk')(err);
      },
    );
    flushing = done;
    inBackground(done);
  }

  function closeInBackground(fd: number, segment: number): void {
    // A flush may be using the descriptor: the close waits for it.
    const flushedThenClosed = (flushing ?? SETTLED).then(() =>
      flushed(flushes.fsync, fd).finally(() => new Promise<void>((resolve) => close(fd, () => resolve()))),
    );
    // Until it has succeeded, the next flush must wait for it (a failed one stays: it fails that flush).
    closing.push(flushedThenClosed);
    inBackground(
      flushedThenClosed.then(
        () => {
          closing = closing.filter((c) => c !== flushedThenClosed);
        },
        (err: Error) => failed(`could not fsync audit spool segment ${segment}`)(err),
      ),
    );
  }

  /** Deletes a segment off the event loop; `size` is what it counted for in `totalBytes`. */
  function deleteSegment(n: number, size: number): void {
    deleting.add(n);
    totalBytes -= size;
    inBackground(
      new Promise<void>((resolve) => {
        unlink(join(dir, segmentName(n)), (err) => {
          deleting.delete(n);
          if (err && err.code !== 'ENOENT') {
            // Still on disk, so it still counts, and a later acknowledgement or overflow retries it.
            totalBytes += size;
            failed(`could not delete audit spool segment ${n}`)(err);
          }
          resolve();
        });
      }),
    );
  }

  function rotate(): void {
    closeInBackground(activeFd, active);
    active++;
    activeFd = openSync(join(dir, segmentName(active)), 'a', 0o600);
    activeSize = 0;
    newSegment = true;
  }

  /** Drops whole oldest segments until the spool fits again. */
  function enforceBound(): void {
    while (totalBytes > maxBytes) {
      const oldest = listSegments()[0];
      if (oldest === undefined || oldest === active) return;
      const from = oldest === cursor.segment ? cursor.offset : 0;
      const lost = oldest >= cursor.segment ? countIn(oldest, from) : 0;
      deleteSegment(oldest, sizeOf(oldest));
      if (cursor.segment <= oldest) {
        cursor = { segment: oldest + 1, offset: 0 };
        persistCursor();
      }
      pendingCount -= lost;
      droppedCount += lost;
      if (lost > 0) options.onDrop?.(lost);
    }
  }

  return {
    append(record) {
      const length = record.length - HEADER;
      if (length < 0 || length > MAX_RECORD) {
        throw new TypeError(
          `an audit spool record must hold ${HEADER} to ${HEADER + MAX_RECORD} bytes, got ${record.length}`,
        );
      }
      record.writeUInt32BE(length, 0);
      if (activeSize > 0 && activeSize + record.length > segmentBytes) rotate();
      writeSync(activeFd, record);
      appended++;
      activeSize += record.length;
      totalBytes += record.length;
      pendingCount++;
      enforceBound();
    },
    read(max, maxBytes = Number.POSITIVE_INFINITY) {
      const events: Uint8Array[] = [];
      let bytes = 0;
      /** The next event would take the batch over `maxBytes` (a batch always gets its first event). */
      let full = false;
      const fits = (size: number) => {
        if (events.length > 0 && bytes + size > maxBytes) full = true;
        else bytes += size;
        return !full;
      };
      // Never from Node's shared buffer pool: a pooled slab is shared with other buffers and must not be freed.
      const owned: Buffer[] = [];
      const own = (size: number) => {
        const b = Buffer.allocUnsafeSlow(size);
        owned.push(b);
        return b;
      };
      let end: SpoolCursor = { ...cursor };
      for (const n of listSegments()) {
        if (n < cursor.segment) continue;
        let offset = n === cursor.segment ? cursor.offset : 0;
        end = { segment: n, offset };
        const fd = openSync(join(dir, segmentName(n)), 'r');
        try {
          const size = n === active ? activeSize : fstatSync(fd).size;
          while (offset < size && events.length < max && !full) {
            const chunk = own(Math.min(READ_CHUNK, size - offset));
            const got = readSync(fd, chunk, 0, chunk.length, offset);
            let consumed = 0;
            for (const r of records(chunk.subarray(0, got), 0)) {
              if (!fits(r.event.length)) break;
              events.push(r.event);
              consumed = r.end;
              if (events.length >= max) break;
            }
            if (consumed === 0 && !full) {
              // A record larger than the chunk, or a torn tail: read it whole, else skip the rest.
              const len = got >= HEADER ? chunk.readUInt32BE(0) : 0;
              if (
                len > 0 &&
                len <= MAX_RECORD &&
                offset + HEADER + len <= size &&
                HEADER + len > chunk.length
              ) {
                if (fits(len)) {
                  const big = own(HEADER + len);
                  readSync(fd, big, 0, big.length, offset);
                  events.push(big.subarray(HEADER));
                  consumed = big.length;
                }
              } else {
                // Only an older segment can end torn (every start opens a new one): it ends here.
                consumed = size - offset;
              }
            }
            offset += consumed;
            end = { segment: n, offset };
          }
        } finally {
          closeSync(fd);
        }
        if (events.length >= max || full || n === active) break;
      }
      return { events, end, release: () => owned.forEach(releaseBuffer) };
    },
    ack(end, count) {
      cursor = end;
      persistCursor();
      pendingCount = Math.max(0, pendingCount - count);
      for (const s of listSegments()) {
        if (s >= cursor.segment || s === active) break;
        deleteSegment(s, sizeOf(s));
      }
    },
    pending: () => pendingCount,
    dropped: () => droppedCount,
    sync() {
      if (syncFailure) return Promise.reject(syncFailure);
      if (synced >= appended) return SETTLED;
      return new Promise<void>((resolve, reject) => {
        waiters.push({ upTo: appended, resolve, reject });
        if (!flushing) startFlush();
      });
    },
    async settled() {
      while (background.size > 0) await Promise.all(background);
    },
    close() {
      fsyncSync(activeFd);
      closeSync(activeFd);
      closeSync(cursorFd);
    },
  };
}
