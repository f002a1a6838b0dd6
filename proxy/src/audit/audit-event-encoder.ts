/**
 * Encodes an audit record straight to the protobuf wire bytes of `tessera.mesh.v1.AuditEvent`
 * (api/proto/tessera/mesh/v1/audit.proto), without building a message object: it runs on the request
 * path, where protobuf-es's `create()` + `toBinary()` (reflection over the schema) cost too much.
 *
 * The output is byte-for-byte what `toBinary(AuditEventSchema, …)` produces for the same event, so the
 * spool and the control plane cannot tell the two apart (the tests compare them, also on random
 * events). Like protobuf-es: fields in field-number order, proto3 implicit-presence defaults ("" , 0,
 * false) left out, repeated elements always written, the timestamp always written, and strings encoded
 * as the WHATWG UTF-8 encoder does (a lone surrogate becomes U+FFFD).
 *
 * It works in two passes: the first validates every number, measures every string and plans the
 * writes (nested messages need their length before their fields); the second writes them into one
 * buffer allocated at the exact size, behind `headroom` free bytes the caller may fill (the spool puts
 * its length header there, so the record reaches the disk with one write and no copy).
 *
 * @module
 */
import { utf8Size, varint32Size, varint64Size } from '../mesh-api/protobuf/wire-writer.ts';
import type { AuditRecord, FilterDecisionRecord } from './audit-event.ts';

/** The proxy-level fields of every event: the same for all records of one proxy. */
export interface AuditEventOrigin {
  proxyId: string;
  server: string;
}

/**
 * The encoded `AuditEvent` starts at byte `headroom` of the result; the bytes before it are left
 * for the caller (unspecified content).
 *
 * @throws TypeError when a number does not fit its proto field (negative, fractional, non-finite or
 *   out of range) or `time` is an invalid Date: such a value is a bug upstream of the audit, and
 *   protobuf-es rejects it too, so no event with a silently altered value is ever recorded.
 */
export function encodeAuditEvent(record: AuditRecord, origin: AuditEventOrigin, headroom = 0): Buffer {
  if (!Number.isInteger(headroom) || headroom < 0) {
    throw new TypeError(`headroom must be a non-negative integer, got ${headroom}`);
  }
  count = 0;
  const size = plan(record, origin);
  const buf = Buffer.allocUnsafe(headroom + size);
  const end = emit(buf, headroom);
  if (end !== buf.length) throw new Error(`audit event encoder wrote ${end - headroom} of ${size} bytes`);
  return buf;
}

// Wire types (https://protobuf.dev/programming-guides/encoding/#structure).
const VARINT = 0;
const LEN = 2;

// The plan: a flat list of writes, four slots each (kind, tag, a, b), reused across calls. The
// encoder is synchronous and calls no user code, so one module-level list cannot be shared by two
// encodings at once.
const STRING = 0; // a: the string, b: its UTF-8 length
const U32 = 1; // a: a varint below 2^32
const U64 = 2; // a: low 32 bits, b: high 32 bits
const HEADER = 3; // a: the length of the nested message that follows
const ops: Array<number | string> = [];
let count = 0;

function push(kind: number, tag: number, a: number | string, b: number): void {
  ops[count++] = kind;
  ops[count++] = tag;
  ops[count++] = a;
  ops[count++] = b;
}

/** Plans every field in field-number order and returns the encoded size. */
function plan(r: AuditRecord, origin: AuditEventOrigin): number {
  let size = str(1, r.eventId);
  size += timestamp(2, r.time);
  size += str(3, origin.proxyId);
  size += str(4, origin.server);
  size += str(5, r.user);
  size += str(6, r.method);
  size += str(7, r.target);
  size += str(8, r.outcome);
  size += uint32(9, r.httpStatus, 'httpStatus');
  size += sint32(10, r.errorCode, 'errorCode');
  size += uint64(11, r.latencyUs, 'latencyUs');
  size += uint64(12, r.requestBytes, 'requestBytes');
  size += uint64(13, r.responseBytes, 'responseBytes');
  size += str(14, r.sessionId);
  size += str(15, r.reason);
  size += str(16, r.requestId);
  size += str(17, r.traceId);
  size += str(18, r.decision ?? '');
  size += str(19, r.ruleId ?? '');
  for (const f of r.filters ?? []) size += filter(20, f);
  size += str(21, r.argumentsDigest ?? '');
  size += str(22, r.clientId ?? '');
  // Repeated strings are packed one element per field, and an empty element is still an element.
  for (const g of r.groups ?? []) size += str(23, g, true);
  size += str(24, r.requestBody ?? '');
  size += str(25, r.responseBody ?? '');
  if (r.bodiesTruncated === true) {
    push(U32, (26 << 3) | VARINT, 1, 0);
    size += 2 + 1;
  }
  size += str(27, r.era ?? '');
  return size;
}

/** `tessera.mesh.v1.FilterDecision`, as a length-delimited field. */
function filter(field: number, f: FilterDecisionRecord): number {
  const at = count;
  push(HEADER, (field << 3) | LEN, 0, 0);
  let size = str(1, f.name);
  size += str(2, f.phase);
  size += str(3, f.decision);
  size += str(4, f.reason);
  size += uint64(5, f.latencyUs, 'filters[].latencyUs');
  ops[at + 2] = size;
  // A message field is written even when all its fields are defaults: presence is explicit.
  return tagSize(field) + varint32Size(size) + size;
}

/**
 * `google.protobuf.Timestamp` from a Date as protobuf-es's `timestampFromDate` builds it: seconds
 * rounded down, so nanos is never negative, even before 1970.
 */
function timestamp(field: number, time: Date): number {
  const ms = time instanceof Date ? time.getTime() : Number.NaN;
  if (!Number.isFinite(ms)) throw new TypeError(`audit event time must be a valid Date, got ${String(time)}`);
  const at = count;
  push(HEADER, (field << 3) | LEN, 0, 0);
  const seconds = Math.floor(ms / 1000);
  // int64 is two's complement on the wire: a negative value is a 10-byte varint.
  let size = varint64(1, seconds >>> 0, Math.floor(seconds / 2 ** 32) >>> 0);
  const nanos = (ms - seconds * 1000) * 1_000_000;
  if (nanos !== 0) {
    push(U32, (2 << 3) | VARINT, nanos, 0);
    size += 1 + varint32Size(nanos);
  }
  ops[at + 2] = size;
  return tagSize(field) + varint32Size(size) + size;
}

function str(field: number, value: string, always = false): number {
  if (value.length === 0 && !always) return 0;
  const len = utf8Size(value);
  push(STRING, (field << 3) | LEN, value, len);
  return tagSize(field) + varint32Size(len) + len;
}

function uint32(field: number, value: number, name: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
    throw new TypeError(`audit event ${name} must be an integer in [0, 2^32), got ${value}`);
  }
  if (value === 0) return 0;
  push(U32, (field << 3) | VARINT, value, 0);
  return tagSize(field) + varint32Size(value);
}

function sint32(field: number, value: number, name: string): number {
  if (!Number.isInteger(value) || value < -0x8000_0000 || value > 0x7fff_ffff) {
    throw new TypeError(`audit event ${name} must be an integer in [-2^31, 2^31), got ${value}`);
  }
  if (value === 0) return 0;
  // ZigZag maps small magnitudes of either sign to small varints (encoding guide, "Signed Integers").
  const zigzag = ((value << 1) ^ (value >> 31)) >>> 0;
  push(U32, (field << 3) | VARINT, zigzag, 0);
  return tagSize(field) + varint32Size(zigzag);
}

/** uint64 from a JS number: every count and duration the proxy has fits 2^53. */
function uint64(field: number, value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new TypeError(`audit event ${name} must be an integer in [0, 2^53), got ${value}`);
  }
  return varint64(field, value >>> 0, Math.floor(value / 2 ** 32));
}

function varint64(field: number, lo: number, hi: number): number {
  if (lo === 0 && hi === 0) return 0;
  push(U64, (field << 3) | VARINT, lo, hi);
  return tagSize(field) + varint64Size(lo, hi);
}

/** Field numbers up to 15 fit a one-byte tag, the rest of ours (up to 2047) two. */
const tagSize = (field: number) => (field < 16 ? 1 : 2);

/** Carries out the plan; returns the position after the last byte written. */
function emit(buf: Buffer, start: number): number {
  let pos = start;
  for (let i = 0; i < count; i += 4) {
    const kind = ops[i] as number;
    pos = putVarint32(buf, pos, ops[i + 1] as number);
    if (kind === STRING) {
      const s = ops[i + 2] as string;
      const len = ops[i + 3] as number;
      pos = putVarint32(buf, pos, len);
      pos += len === s.length ? putAscii(buf, pos, s) : buf.write(s, pos, len, 'utf8');
    } else if (kind === U64) {
      pos = putVarint64(buf, pos, ops[i + 2] as number, ops[i + 3] as number);
    } else {
      // U32 and HEADER: both a varint below 2^32.
      pos = putVarint32(buf, pos, ops[i + 2] as number);
    }
  }
  // The plan holds the strings of this event; do not keep them alive until the next one.
  for (let i = 2; i < count; i += 4) ops[i] = 0;
  return pos;
}

function putAscii(buf: Buffer, pos: number, s: string): number {
  if (s.length > 64) return buf.write(s, pos, s.length, 'latin1');
  for (let i = 0; i < s.length; i++) buf[pos + i] = s.charCodeAt(i);
  return s.length;
}

function putVarint32(buf: Buffer, pos: number, v: number): number {
  while (v > 0x7f) {
    buf[pos++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  buf[pos++] = v;
  return pos;
}

function putVarint64(buf: Buffer, pos: number, lo: number, hi: number): number {
  while (hi > 0 || lo > 0x7f) {
    buf[pos++] = (lo & 0x7f) | 0x80;
    lo = ((lo >>> 7) | (hi << 25)) >>> 0;
    hi >>>= 7;
  }
  buf[pos++] = lo;
  return pos;
}
