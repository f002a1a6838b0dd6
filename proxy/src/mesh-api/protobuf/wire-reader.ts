/**
 * Reads the protobuf binary wire format (https://protobuf.dev/programming-guides/encoding/).
 *
 * It accepts and rejects exactly the bytes protobuf-es's `BinaryReader` does, because the mesh codecs
 * must agree with `fromBinary` (the control plane's decoder) on every input, including damaged ones.
 * That is why some of its leniencies are kept on purpose: a skipped (unknown-field) varint may be longer
 * than 10 bytes, the bits past 32 of a 32-bit varint are dropped, groups in unknown fields are skipped.
 * Every failure is a `ProtobufDecodeError` naming what is wrong and the byte offset.
 *
 * @module
 */
import { ProtobufDecodeError } from './protobuf-decode-error.ts';

/** Wire types (the low 3 bits of a tag). */
export const WireType = { VARINT: 0, I64: 1, LEN: 2, SGROUP: 3, EGROUP: 4, I32: 5 } as const;
export type WireType = (typeof WireType)[keyof typeof WireType];

// Strict like protobuf-es for proto3 strings (utf8_validation VERIFY); a leading U+FEFF is text.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export class WireReader {
  readonly buf: Uint8Array;
  readonly len: number;
  pos = 0;
  /** Set by `tag()`. */
  fieldNo = 0;
  /** Set by `tag()`. */
  wireType = 0;
  /** What is being read, for error messages; set by the caller. */
  context = '';
  private lo = 0;
  private hi = 0;
  private view: DataView | undefined;

  constructor(buf: Uint8Array) {
    this.buf = buf;
    this.len = buf.length;
  }

  fail(what: string, offset = this.pos): never {
    throw new ProtobufDecodeError(this.context === '' ? what : `${this.context}: ${what}`, offset);
  }

  /** Reads a field tag into `fieldNo` and `wireType`. */
  tag(): void {
    const start = this.pos;
    const tag = this.uint32();
    const n = this.pos - start;
    if (n > 5 || (n === 5 && this.buf[this.pos - 1]! > 0x0f))
      this.fail('tag varint overflows 32 bits', start);
    this.fieldNo = tag >>> 3;
    this.wireType = tag & 7;
    if (this.fieldNo === 0) this.fail('field number 0', start);
    if (this.wireType > 5) this.fail(`invalid wire type ${this.wireType}`, start);
  }

  /** An unsigned 32-bit varint; like protobuf-es, bits past 32 of a longer varint are dropped. */
  uint32(): number {
    const { buf, len } = this;
    const start = this.pos;
    let result = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= len) this.fail('truncated varint', start);
      const b = buf[this.pos++]!;
      if (i < 4) result |= (b & 0x7f) << (7 * i);
      else if (i === 4) result |= (b & 0x0f) << 28;
      if (b < 0x80) return result >>> 0;
    }
    return this.fail('varint longer than 10 bytes', start);
  }

  int32(): number {
    return this.uint32() | 0;
  }

  uint64(): bigint {
    this.varint64();
    return (BigInt(this.hi >>> 0) << 32n) | BigInt(this.lo >>> 0);
  }

  int64(): bigint {
    return BigInt.asIntN(64, this.uint64());
  }

  bool(): boolean {
    this.varint64();
    return this.lo !== 0 || this.hi !== 0;
  }

  double(): number {
    const at = this.advance(8);
    this.view ??= new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    return this.view.getFloat64(at, true);
  }

  /** A view into the input, as protobuf-es returns it (no copy). */
  bytes(): Uint8Array {
    const n = this.uint32();
    const at = this.advance(n);
    return this.buf.subarray(at, at + n);
  }

  string(): string {
    const n = this.uint32();
    const at = this.advance(n);
    const { buf } = this;
    if (n <= 32) {
      let ascii = true;
      for (let i = at; i < at + n; i++) {
        if (buf[i]! > 0x7f) {
          ascii = false;
          break;
        }
      }
      if (ascii) return String.fromCharCode.apply(null, buf.subarray(at, at + n) as unknown as number[]);
    }
    try {
      return utf8.decode(buf.subarray(at, at + n));
    } catch {
      return this.fail('invalid UTF-8 in string', at);
    }
  }

  /**
   * Skips the value of an unknown field. Groups (deprecated, but valid wire format) are skipped with
   * their nested fields, `depthBudget` deep at most, as protobuf-es does.
   */
  skip(wireType: number, fieldNo: number, depthBudget: number): void {
    const start = this.pos;
    switch (wireType) {
      case WireType.VARINT:
        // No 10-byte limit here: protobuf-es skips any run of continuation bytes.
        while (true) {
          if (this.pos >= this.len) this.fail('truncated varint', start);
          if (this.buf[this.pos++]! < 0x80) return;
        }
      case WireType.I64:
        this.advance(8);
        return;
      case WireType.I32:
        this.advance(4);
        return;
      case WireType.LEN:
        this.advance(this.uint32());
        return;
      case WireType.SGROUP:
        if (depthBudget <= 0) this.fail('groups nested too deeply', start);
        while (true) {
          this.tag();
          if (this.wireType === WireType.EGROUP) {
            if (this.fieldNo !== fieldNo)
              this.fail(`end group ${this.fieldNo} does not close group ${fieldNo}`, start);
            return;
          }
          this.skip(this.wireType, this.fieldNo, depthBudget - 1);
        }
      default:
        this.fail(`unexpected end group (wire type ${wireType}) for field ${fieldNo}`, start);
    }
  }

  /** Moves past `n` bytes that must be in the input; returns where they start. */
  private advance(n: number): number {
    const at = this.pos;
    if (n > this.len - at)
      this.fail(`length ${n} runs past the end of the input (${this.len - at} bytes left)`, at);
    this.pos = at + n;
    return at;
  }

  /** A varint of up to 64 bits into lo/hi, decoded as protobuf-es's varint64read does. */
  private varint64(): void {
    const { buf, len } = this;
    const start = this.pos;
    let lo = 0;
    let hi = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= len) this.fail('truncated varint', start);
      const b = buf[this.pos++]!;
      if (i < 4) lo |= (b & 0x7f) << (7 * i);
      else if (i === 4) {
        lo |= (b & 0x0f) << 28;
        hi = (b & 0x70) >> 4;
      } else hi |= (b & 0x7f) << (3 + 7 * (i - 5));
      if (b < 0x80) {
        this.lo = lo;
        this.hi = hi;
        return;
      }
    }
    this.fail('varint longer than 10 bytes', start);
  }
}
