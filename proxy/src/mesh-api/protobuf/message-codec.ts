/**
 * A generic protobuf codec driven by field tables (message-spec.ts). Decoding yields exactly what
 * protobuf-es's `fromBinary` yields for the same bytes (without `$unknown`: unknown fields are
 * skipped), and encoding yields exactly the bytes of its `toBinary`; the tests compare both on random
 * messages and on damaged input.
 *
 * Decoding follows protobuf-es also where it is lenient, so that the proxy and the control plane
 * accept the same bytes: the wire type of a known field is not checked (the value is read as the
 * field's type), a nested message may read past its declared length, a repeated singular field
 * keeps its last value and a repeated singular message field is merged.
 *
 * @module
 */
import { type FieldSpec, type MessageSpec, Scalar } from './message-spec.ts';
import { WireReader, WireType } from './wire-reader.ts';
import { utf8Size, varint32Size, varint64Size, WireWriter } from './wire-writer.ts';

/** protobuf-es's default `recursionLimit`. */
const RECURSION_LIMIT = 100;

type Fields = Record<string, unknown>;

// ---- decoding

/** @throws ProtobufDecodeError when `bytes` is not a valid encoding of the message. */
export function decodeMessage(spec: MessageSpec, bytes: Uint8Array): Fields {
  const reader = new WireReader(bytes);
  const message = emptyMessage(spec);
  readFields(spec, message, reader, reader.len, 1);
  return message;
}

function emptyMessage(spec: MessageSpec): Fields {
  const message: Fields = { $typeName: spec.typeName };
  for (const f of spec.fields) {
    if (f.kind === 'scalar') message[f.name] = zero(f.scalar);
    else if (f.kind === 'list') message[f.name] = [];
    else if (f.kind === 'map') message[f.name] = {};
    // An absent message field is no property at all, as protobuf-es's create() leaves it.
  }
  return message;
}

function zero(scalar: Scalar): unknown {
  switch (scalar) {
    case Scalar.STRING:
      return '';
    case Scalar.BOOL:
      return false;
    case Scalar.BYTES:
      return new Uint8Array(0);
    case Scalar.INT64:
    case Scalar.UINT64:
      return 0n;
    default:
      return 0;
  }
}

function readFields(spec: MessageSpec, message: Fields, r: WireReader, end: number, depth: number): void {
  if (depth > RECURSION_LIMIT) r.fail(`${spec.typeName} nested more than ${RECURSION_LIMIT} deep`);
  while (r.pos < end) {
    r.context = spec.typeName;
    r.tag();
    const f = spec.byNo[r.fieldNo];
    if (f === undefined) {
      r.skip(r.wireType, r.fieldNo, RECURSION_LIMIT - depth);
      continue;
    }
    r.context = `${spec.typeName}.${f.name}`;
    if (f.kind === 'scalar') message[f.name] = readScalar(r, f.scalar);
    else if (f.kind === 'message')
      message[f.name] = readMessage(r, f.message, message[f.name] as Fields, depth);
    else if (f.kind === 'list') {
      (message[f.name] as unknown[]).push(
        'message' in f ? readMessage(r, f.message, undefined, depth) : readScalar(r, f.scalar),
      );
    } else readMapEntry(r, f.scalar, message[f.name] as Fields, depth);
  }
}

function readScalar(r: WireReader, scalar: Scalar): unknown {
  switch (scalar) {
    case Scalar.STRING:
      return r.string();
    case Scalar.BYTES:
      return r.bytes();
    case Scalar.UINT32:
      return r.uint32();
    case Scalar.INT32:
      return r.int32();
    case Scalar.BOOL:
      return r.bool();
    case Scalar.DOUBLE:
      return r.double();
    case Scalar.INT64:
      return r.int64();
    case Scalar.UINT64:
      return r.uint64();
  }
}

/** A length-delimited message, merged into `existing` when the field was seen before. */
function readMessage(r: WireReader, spec: MessageSpec, existing: Fields | undefined, depth: number): Fields {
  const end = lengthEnd(r);
  const message = existing ?? emptyMessage(spec);
  readFields(spec, message, r, end, depth + 1);
  return message;
}

function lengthEnd(r: WireReader): number {
  const at = r.pos;
  const n = r.uint32();
  // protobuf-es finds this out later (reading past the end); the verdict is the same.
  if (n > r.len - r.pos)
    r.fail(`length ${n} runs past the end of the input (${r.len - r.pos} bytes left)`, at);
  return r.pos + n;
}

/** A map entry: key 1, value 2, either may be missing (then the default); other fields skipped. */
function readMapEntry(r: WireReader, scalar: Scalar, record: Fields, depth: number): void {
  const end = lengthEnd(r);
  let key: string | undefined;
  let value: unknown;
  while (r.pos < end) {
    r.tag();
    if (r.fieldNo === 1) key = r.string();
    else if (r.fieldNo === 2) value = readScalar(r, scalar);
    else r.skip(r.wireType, r.fieldNo, RECURSION_LIMIT - depth);
  }
  key ??= '';
  value ??= zero(scalar);
  // A plain assignment to "__proto__" would set the prototype instead.
  if (key === '__proto__')
    Object.defineProperty(record, key, { value, writable: true, enumerable: true, configurable: true });
  else record[key] = value;
}

// ---- encoding

/**
 * Encodes a plain object shaped like the message (absent properties are defaults; `$typeName` is
 * not needed).
 *
 * @throws TypeError when a value does not fit its field (as protobuf-es's toBinary does).
 */
export function encodeMessage(spec: MessageSpec, message: object): Buffer {
  // First pass: sizes. `lengths` gets, in write order, each nested message's and each string's
  // length, so the second pass writes without measuring again.
  const lengths: number[] = [];
  const size = measure(spec, message as Fields, lengths);
  const w = new WireWriter(size);
  write(spec, message as Fields, w, lengths, { next: 0 });
  if (w.pos !== size) throw new Error(`${spec.typeName}: encoder wrote ${w.pos} of ${size} bytes`);
  return w.buf;
}

const tagSize = (no: number): number => varint32Size(no << 3);

function wireTypeOf(scalar: Scalar): number {
  switch (scalar) {
    case Scalar.STRING:
    case Scalar.BYTES:
      return WireType.LEN;
    case Scalar.DOUBLE:
      return WireType.I64;
    default:
      return WireType.VARINT;
  }
}

/** Whether proto3 leaves the value out (implicit presence), as protobuf-es decides it. */
function isDefault(scalar: Scalar, v: unknown): boolean {
  if (v === undefined) return true;
  switch (scalar) {
    case Scalar.STRING:
      return v === '';
    case Scalar.BOOL:
      return v === false;
    case Scalar.BYTES:
      return v instanceof Uint8Array && v.length === 0;
    case Scalar.DOUBLE:
      return Object.is(v, 0);
    default:
      // biome-ignore lint/suspicious/noDoubleEquals: 0 and 0n alike, as protobuf-es compares
      return v == 0;
  }
}

function measure(spec: MessageSpec, m: Fields, lengths: number[]): number {
  let size = 0;
  for (const f of spec.fields) {
    const v = m[f.name];
    if (v === undefined) continue;
    if (f.kind === 'scalar') {
      if (!isDefault(f.scalar, v)) size += tagSize(f.no) + scalarSize(spec, f, f.scalar, v, lengths);
    } else if (f.kind === 'message') {
      size += tagSize(f.no) + nestedSize(f.message, v as Fields, lengths);
    } else if (f.kind === 'list') {
      for (const item of arrayOf(spec, f, v)) {
        size +=
          tagSize(f.no) +
          ('message' in f
            ? nestedSize(f.message, item as Fields, lengths)
            : scalarSize(spec, f, f.scalar, item, lengths));
      }
    } else {
      for (const [key, value] of Object.entries(recordOf(spec, f, v))) {
        const slot = lengths.length;
        lengths.push(0);
        // Key and value are always written, defaults too, as protobuf-es does.
        const entry =
          1 +
          scalarSize(spec, f, Scalar.STRING, key, lengths) +
          1 +
          scalarSize(spec, f, f.scalar, value, lengths);
        lengths[slot] = entry;
        size += tagSize(f.no) + varint32Size(entry) + entry;
      }
    }
  }
  return size;
}

function nestedSize(spec: MessageSpec, m: Fields, lengths: number[]): number {
  if (typeof m !== 'object' || m === null)
    throw new TypeError(`${spec.typeName}: expected an object, got ${typeof m}`);
  const slot = lengths.length;
  lengths.push(0);
  const n = measure(spec, m, lengths);
  lengths[slot] = n;
  return varint32Size(n) + n;
}

function arrayOf(spec: MessageSpec, f: FieldSpec, v: unknown): readonly unknown[] {
  if (!Array.isArray(v)) throw new TypeError(`${spec.typeName}.${f.name}: expected an array`);
  return v;
}

function recordOf(spec: MessageSpec, f: FieldSpec, v: unknown): Fields {
  if (typeof v !== 'object' || v === null)
    throw new TypeError(`${spec.typeName}.${f.name}: expected an object`);
  return v as Fields;
}

/** Size of a scalar value without its tag; validates it. */
function scalarSize(spec: MessageSpec, f: FieldSpec, scalar: Scalar, v: unknown, lengths: number[]): number {
  const bad = (expected: string): never => {
    throw new TypeError(`${spec.typeName}.${f.name}: expected ${expected}, got ${String(v)}`);
  };
  switch (scalar) {
    case Scalar.STRING: {
      if (typeof v !== 'string') bad('a string');
      const n = utf8Size(v as string);
      lengths.push(n);
      return varint32Size(n) + n;
    }
    case Scalar.BYTES:
      if (!(v instanceof Uint8Array)) bad('a Uint8Array');
      return varint32Size((v as Uint8Array).length) + (v as Uint8Array).length;
    case Scalar.UINT32:
      if (!Number.isInteger(v) || (v as number) < 0 || (v as number) > 0xffff_ffff) bad('a uint32');
      return varint32Size(v as number);
    case Scalar.INT32:
      if (!Number.isInteger(v) || (v as number) < -0x8000_0000 || (v as number) > 0x7fff_ffff)
        bad('an int32');
      // A negative int32 is sign-extended to 64 bits on the wire: 10 bytes.
      return (v as number) < 0 ? 10 : varint32Size(v as number);
    case Scalar.BOOL:
      if (typeof v !== 'boolean') bad('a boolean');
      return 1;
    case Scalar.DOUBLE:
      if (typeof v !== 'number') bad('a number');
      return 8;
    case Scalar.INT64:
      if (typeof v !== 'bigint' || BigInt.asIntN(64, v) !== v) bad('an int64 bigint');
      return varint64Size(...split64(v as bigint));
    case Scalar.UINT64:
      if (typeof v !== 'bigint' || BigInt.asUintN(64, v) !== v) bad('a uint64 bigint');
      return varint64Size(...split64(v as bigint));
  }
}

/** Two's complement low and high 32 bits, both unsigned. */
function split64(v: bigint): [number, number] {
  const u = BigInt.asUintN(64, v);
  return [Number(u & 0xffff_ffffn), Number(u >> 32n)];
}

function write(spec: MessageSpec, m: Fields, w: WireWriter, lengths: number[], at: { next: number }): void {
  for (const f of spec.fields) {
    const v = m[f.name];
    if (v === undefined) continue;
    if (f.kind === 'scalar') {
      if (isDefault(f.scalar, v)) continue;
      w.varint32((f.no << 3) | wireTypeOf(f.scalar));
      writeScalar(f.scalar, v, w, lengths, at);
    } else if (f.kind === 'message') {
      w.varint32((f.no << 3) | WireType.LEN);
      writeNested(f.message, v as Fields, w, lengths, at);
    } else if (f.kind === 'list') {
      for (const item of v as unknown[]) {
        if ('message' in f) {
          w.varint32((f.no << 3) | WireType.LEN);
          writeNested(f.message, item as Fields, w, lengths, at);
        } else {
          w.varint32((f.no << 3) | wireTypeOf(f.scalar));
          writeScalar(f.scalar, item, w, lengths, at);
        }
      }
    } else {
      for (const [key, value] of Object.entries(v as Fields)) {
        w.varint32((f.no << 3) | WireType.LEN);
        w.varint32(lengths[at.next++]!);
        w.varint32((1 << 3) | WireType.LEN);
        writeScalar(Scalar.STRING, key, w, lengths, at);
        w.varint32((2 << 3) | wireTypeOf(f.scalar));
        writeScalar(f.scalar, value, w, lengths, at);
      }
    }
  }
}

function writeNested(
  spec: MessageSpec,
  m: Fields,
  w: WireWriter,
  lengths: number[],
  at: { next: number },
): void {
  w.varint32(lengths[at.next++]!);
  write(spec, m, w, lengths, at);
}

function writeScalar(
  scalar: Scalar,
  v: unknown,
  w: WireWriter,
  lengths: number[],
  at: { next: number },
): void {
  switch (scalar) {
    case Scalar.STRING:
      w.string(v as string, lengths[at.next++]!);
      return;
    case Scalar.BYTES:
      w.bytes(v as Uint8Array);
      return;
    case Scalar.UINT32:
      w.varint32(v as number);
      return;
    case Scalar.INT32:
      if ((v as number) < 0) w.varint64((v as number) >>> 0, 0xffff_ffff);
      else w.varint32(v as number);
      return;
    case Scalar.BOOL:
      w.varint32(v ? 1 : 0);
      return;
    case Scalar.DOUBLE:
      w.double(v as number);
      return;
    case Scalar.INT64:
    case Scalar.UINT64:
      w.varint64(...split64(v as bigint));
      return;
  }
}
