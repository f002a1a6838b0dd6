import assert from 'node:assert/strict';
import {
  appendFileSync,
  fdatasync,
  fsync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { AuditEventSchema } from '@tessera/api/mesh/v1/audit';
import { openAuditSpool, SPOOL_RECORD_HEADROOM } from './audit-spool.ts';

/** A record as the shipper hands it over: the encoded event behind the spool's headroom. */
function event(i: number): Buffer {
  const body = toBinary(
    AuditEventSchema,
    create(AuditEventSchema, { eventId: `e${i}`, method: `m${i}`, outcome: 'ok' }),
  );
  const record = Buffer.alloc(SPOOL_RECORD_HEADROOM + body.length);
  record.set(body, SPOOL_RECORD_HEADROOM);
  return record;
}
/** The event ids of records read back (each an encoded AuditEvent, as spooled). */
const ids = (events: Uint8Array[]) => events.map((e) => fromBinary(AuditEventSchema, e).eventId);
const fresh = () => mkdtempSync(join(tmpdir(), 'tessera-spool-'));
const segments = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.seg'));

test('reads in order across segments, in batches, and acknowledged events are gone', () => {
  const spool = openAuditSpool({ dir: fresh(), segmentBytes: 100 });
  for (let i = 0; i < 20; i++) spool.append(event(i));
  assert.equal(spool.pending(), 20);
  const a = spool.read(7);
  assert.deepEqual(ids(a.events), ['e0', 'e1', 'e2', 'e3', 'e4', 'e5', 'e6']);
  // Reading again without an ack returns the same batch: a retry resends the same events.
  assert.deepEqual(ids(spool.read(7).events), ids(a.events));
  spool.ack(a.end, 7);
  assert.equal(spool.pending(), 13);
  const b = spool.read(100);
  assert.deepEqual(
    ids(b.events),
    Array.from({ length: 13 }, (_, i) => `e${i + 7}`),
  );
  spool.ack(b.end, 13);
  assert.equal(spool.pending(), 0);
  assert.deepEqual(spool.read(10).events, []);
  spool.close();
});

test('a batch stops before the event that would take it over maxBytes; a larger first event comes alone', () => {
  const spool = openAuditSpool({ dir: fresh(), segmentBytes: 4 * 1024 * 1024 });
  const big = (i: number) => {
    // Larger than the spool's 1 MiB read chunk, so it is read whole on its own.
    const body = toBinary(
      AuditEventSchema,
      create(AuditEventSchema, { eventId: `e${i}`, method: 'x'.repeat(1_500_000), outcome: 'ok' }),
    );
    const record = Buffer.alloc(SPOOL_RECORD_HEADROOM + body.length);
    record.set(body, SPOOL_RECORD_HEADROOM);
    return record;
  };
  const records = [event(0), event(1), event(2), event(3), big(4), event(5), big(6), big(7)];
  for (const r of records) spool.append(r);
  const size = (i: number) => records[i]!.length - SPOOL_RECORD_HEADROOM;
  const sizes = (events: Uint8Array[]) => events.reduce((n, e) => n + e.length, 0);

  const first = spool.read(100, size(0) + size(1) + size(2));
  assert.deepEqual(ids(first.events), ['e0', 'e1', 'e2'], 'exactly at the limit');
  spool.ack(first.end, first.events.length);
  const second = spool.read(100, size(3) + 10);
  assert.deepEqual(ids(second.events), ['e3'], 'the big event after it does not fit');
  spool.ack(second.end, second.events.length);
  const third = spool.read(100, 1000);
  assert.deepEqual(ids(third.events), ['e4'], 'a first event over the limit comes alone');
  assert.equal(sizes(third.events), size(4));
  spool.ack(third.end, third.events.length);
  const fourth = spool.read(100, size(5) + size(6));
  assert.deepEqual(ids(fourth.events), ['e5', 'e6'], 'a big event that fits is read whole');
  spool.ack(fourth.end, fourth.events.length);
  const rest = spool.read(100);
  assert.deepEqual(ids(rest.events), ['e7'], 'without a limit, the rest');
  spool.ack(rest.end, rest.events.length);
  assert.equal(spool.pending(), 0);
  spool.close();
});

test('acknowledged segments are deleted', async () => {
  const dir = fresh();
  const spool = openAuditSpool({ dir, segmentBytes: 60 });
  for (let i = 0; i < 30; i++) spool.append(event(i));
  assert.ok(segments(dir).length > 3);
  const all = spool.read(1000);
  spool.ack(all.end, all.events.length);
  // Deleted in the background, but already gone for the spool itself.
  assert.deepEqual(spool.read(1000).events, []);
  await spool.settled();
  assert.equal(segments(dir).length, 1, 'only the active segment remains');
  spool.close();
});

test('closed segments are flushed and closed in the background: no descriptor is left open', async () => {
  const openFds = () => readdirSync('/proc/self/fd').length;
  const before = openFds();
  const spool = openAuditSpool({ dir: fresh(), segmentBytes: 60 });
  for (let i = 0; i < 40; i++) spool.append(event(i));
  await spool.settled();
  assert.equal(openFds(), before + 2, 'the active segment and the cursor');
  assert.equal(spool.read(1000).events.length, 40);
  spool.close();
  assert.equal(openFds(), before);
});

test('a segment that cannot be deleted is reported and retried', async () => {
  const dir = fresh();
  const errors: string[] = [];
  const spool = openAuditSpool({
    dir,
    segmentBytes: 60,
    maxBytes: 1024 * 1024,
    onError: (message, err) => errors.push(`${message}: ${(err as NodeJS.ErrnoException).code}`),
  });
  for (let i = 0; i < 6; i++) spool.append(event(i));
  const [first] = segments(dir);
  const all = spool.read(1000);
  // A directory in the first segment's place: unlink(2) refuses it.
  rmSync(join(dir, first!));
  mkdirSync(join(dir, first!, 'x'), { recursive: true });
  spool.ack(all.end, all.events.length);
  await spool.settled();
  assert.equal(errors.length, 1, errors.join('\n'));
  assert.match(
    errors[0]!,
    new RegExp(`could not delete audit spool segment ${Number(first!.slice(0, 16))}: EISDIR`),
  );
  assert.ok(segments(dir).includes(first!));
  // The spool goes on; the next acknowledgement tries the stuck segment again.
  spool.append(event(6));
  const next = spool.read(1000);
  assert.deepEqual(ids(next.events), ['e6']);
  rmSync(join(dir, first!), { recursive: true });
  writeFileSync(join(dir, first!), '');
  spool.ack(next.end, 1);
  await spool.settled();
  assert.equal(errors.length, 1);
  assert.ok(!segments(dir).includes(first!));
  spool.close();
});

test('a restart resumes after the last acknowledgement', () => {
  const dir = fresh();
  const first = openAuditSpool({ dir, segmentBytes: 100 });
  for (let i = 0; i < 10; i++) first.append(event(i));
  const a = first.read(4);
  first.ack(a.end, 4);
  // No close(): the process is killed here.
  const second = openAuditSpool({ dir, segmentBytes: 100 });
  assert.equal(second.pending(), 6);
  second.append(event(10));
  assert.deepEqual(ids(second.read(100).events), ['e4', 'e5', 'e6', 'e7', 'e8', 'e9', 'e10']);
  second.close();
});

test('a record torn by a crash ends its segment; later segments are still read', () => {
  const dir = fresh();
  const first = openAuditSpool({ dir });
  first.append(event(1));
  first.append(event(2));
  first.close();
  // Half a record: a length prefix promising more bytes than follow.
  const [seg] = segments(dir);
  appendFileSync(join(dir, seg!), Buffer.from([0, 0, 0, 50, 1, 2, 3]));
  const second = openAuditSpool({ dir });
  assert.equal(second.pending(), 2, 'the torn record is not counted');
  second.append(event(3));
  const all = second.read(100);
  assert.deepEqual(ids(all.events), ['e1', 'e2', 'e3']);
  second.ack(all.end, 3);
  assert.equal(second.pending(), 0);
  second.close();
});

test('a full spool drops whole oldest segments and counts the events', () => {
  const dropped: number[] = [];
  const spool = openAuditSpool({
    dir: fresh(),
    maxBytes: 64 * 1024,
    segmentBytes: 8 * 1024,
    onDrop: (n) => dropped.push(n),
  });
  for (let i = 0; i < 10_000; i++) spool.append(event(i));
  assert.ok(spool.dropped() > 0);
  assert.equal(
    dropped.reduce((a, b) => a + b, 0),
    spool.dropped(),
  );
  assert.equal(spool.pending() + spool.dropped(), 10_000);
  // What survives is the newest, in order.
  const rest = spool.read(100_000).events;
  assert.equal(rest.length, spool.pending());
  assert.equal(ids(rest).at(-1), 'e9999');
  spool.close();
});

test('a segment holds each record as a 4-byte big-endian length and the event bytes', () => {
  const dir = fresh();
  const spool = openAuditSpool({ dir });
  spool.append(event(1));
  spool.append(event(2));
  spool.close();
  const bodies = [1, 2].map((i) => event(i).subarray(SPOOL_RECORD_HEADROOM));
  const expected = Buffer.concat(
    bodies.flatMap((b) => [Buffer.from([0, 0, b.length >> 8, b.length & 0xff]), b]),
  );
  const [seg] = segments(dir);
  assert.deepEqual(readFileSync(join(dir, seg!)), expected);
});

test('a record without room for the length header is refused and nothing is written', () => {
  const dir = fresh();
  const spool = openAuditSpool({ dir });
  assert.throws(() => spool.append(Buffer.alloc(SPOOL_RECORD_HEADROOM - 1)), {
    name: 'TypeError',
    message: /must hold 4 to/,
  });
  assert.equal(spool.pending(), 0);
  spool.close();
  const [seg] = segments(dir);
  assert.equal(readFileSync(join(dir, seg!)).length, 0);
});

test('a released batch gives its memory back; other buffers and the spool itself are untouched', () => {
  const spool = openAuditSpool({ dir: fresh() });
  for (let i = 0; i < 50; i++) spool.append(event(i));
  // A small buffer from Node's shared pool, alive across the release: it must keep its bytes.
  const bystander = Buffer.from('pooled bystander');
  const batch = spool.read(50);
  const memory = new Set(batch.events.map((e) => e.buffer));
  batch.release();
  for (const m of memory) assert.equal((m as ArrayBuffer).detached, true);
  assert.ok(batch.events.every((e) => e.length === 0));
  assert.equal(bystander.toString(), 'pooled bystander');
  // Nothing was acknowledged: the same events are read again, from the disk.
  const again = spool.read(50);
  assert.deepEqual(
    ids(again.events),
    Array.from({ length: 50 }, (_, i) => `e${i}`),
  );
  spool.close();
});

/**
 * The real flushes, each call recorded with the file its descriptor is open on; `fsync` (what closes a
 * segment) starts late when `fsyncDelayMs` is given, and `pending` counts the flushes not yet done.
 */
function observedFlushes(
  fail?: (kind: string, path: string) => NodeJS.ErrnoException | undefined,
  fsyncDelayMs = 0,
) {
  const calls: { kind: 'fdatasync' | 'fsync'; path: string }[] = [];
  let pending = 0;
  const observe =
    (kind: 'fdatasync' | 'fsync') => (fd: number, cb: (err: NodeJS.ErrnoException | null) => void) => {
      const path = readlinkSync(`/proc/self/fd/${fd}`);
      calls.push({ kind, path });
      pending++;
      const done = (err: NodeJS.ErrnoException | null) => {
        pending--;
        cb(err);
      };
      const err = fail?.(kind, path);
      if (err) setImmediate(done, err);
      else if (kind === 'fdatasync') fdatasync(fd, done);
      else setTimeout(() => fsync(fd, done), fsyncDelayMs);
    };
  return {
    calls,
    pending: () => pending,
    flushes: { fdatasync: observe('fdatasync'), fsync: observe('fsync') },
  };
}

test('sync flushes the segment and, for a new segment, the directory; concurrent callers share flushes', async () => {
  const dir = fresh();
  const { calls, flushes } = observedFlushes();
  const timed: number[] = [];
  const spool = openAuditSpool({ dir, flushes, onFlushed: (s) => timed.push(s) });
  await spool.sync();
  assert.equal(calls.length, 0, 'nothing appended, nothing to flush');
  spool.append(event(0));
  const first = spool.sync();
  // Appended while the first flush runs: one more flush carries all of them.
  for (let i = 1; i <= 20; i++) spool.append(event(i));
  await Promise.all([first, ...Array.from({ length: 20 }, () => spool.sync())]);
  const [segment] = segments(dir);
  assert.deepEqual(calls, [
    { kind: 'fdatasync', path: join(dir, segment!) },
    { kind: 'fsync', path: dir },
    { kind: 'fdatasync', path: join(dir, segment!) },
  ]);
  await spool.sync();
  assert.equal(calls.length, 3, 'everything is flushed already');
  assert.equal(timed.length, 2, 'each flush is timed');
  assert.ok(timed.every((s) => s >= 0 && s < 60));
  await spool.settled();
  spool.close();
});

test('sync waits for the segments closed since the last flush', async () => {
  const dir = fresh();
  // Closing a segment fsyncs it; here that takes longer than the active segment's fdatasync.
  const { calls, flushes, pending } = observedFlushes(undefined, 100);
  const spool = openAuditSpool({ dir, segmentBytes: 40, flushes });
  for (let i = 0; i < 10; i++) spool.append(event(i));
  await spool.sync();
  assert.equal(pending(), 0, 'sync resolved only when every flush had finished');
  const names = segments(dir).sort();
  assert.ok(names.length >= 3);
  const flushedFiles = new Set(calls.map((c) => c.path));
  for (const name of names) assert.ok(flushedFiles.has(join(dir, name)), `${name} was flushed`);
  assert.ok(flushedFiles.has(dir), 'and the directory that names them');
  await spool.settled();
  spool.close();
});

test('a failed flush fails its callers and every later sync; appending goes on', async () => {
  const dir = fresh();
  const errors: string[] = [];
  const eio = Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
  const { flushes } = observedFlushes((kind) => (kind === 'fdatasync' ? eio : undefined));
  const spool = openAuditSpool({ dir, flushes, onError: (message) => errors.push(message) });
  spool.append(event(0));
  await assert.rejects(spool.sync(), /could not flush the audit spool to disk: EIO/);
  spool.append(event(1));
  await assert.rejects(spool.sync(), /EIO/);
  assert.deepEqual(errors, ['could not flush the audit spool to disk']);
  assert.equal(spool.pending(), 2);
  await spool.settled();
  spool.close();
});
