/**
 * Writes the protobuf binary wire format into a buffer allocated once at the exact size: callers
 * measure first (the `*Size` functions), then write.
 *
 * @module
 */

/** Bytes of `v` (0..2^32-1) as a varint. */
export function varint32Size(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x20_0000 ? 3 : v < 0x1000_0000 ? 4 : 5;
}

/** Bytes of the 64-bit value `hi`·2^32 + `lo` (both unsigned 32-bit) as a varint. */
export function varint64Size(lo: number, hi: number): number {
  return hi === 0 ? varint32Size(lo) : Math.ceil((64 - Math.clz32(hi)) / 7);
}

/**
 * UTF-8 length as the WHATWG encoder (protobuf-es's) writes it: a lone surrogate becomes U+FFFD.
 * Short strings are counted here, cheaper than a native call.
 */
export function utf8Size(s: string): number {
  if (s.length > 64) return Buffer.byteLength(s, 'utf8');
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 2;
      i++;
    } else n += 2;
  }
  return n;
}

export class WireWriter {
  readonly buf: Buffer;
  pos = 0;

  constructor(size: number) {
    // Every byte is written before the buffer is returned (the caller checks the final position).
    this.buf = Buffer.allocUnsafe(size);
  }

  varint32(v: number): void {
    const { buf } = this;
    while (v > 0x7f) {
      buf[this.pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    buf[this.pos++] = v;
  }

  varint64(lo: number, hi: number): void {
    const { buf } = this;
    while (hi !== 0 || lo > 0x7f) {
      buf[this.pos++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    buf[this.pos++] = lo;
  }

  /** A string whose UTF-8 length `n` the caller measured with `utf8Size`. */
  string(s: string, n: number): void {
    this.varint32(n);
    if (n === s.length && n <= 64) {
      for (let i = 0; i < n; i++) this.buf[this.pos + i] = s.charCodeAt(i);
    } else this.buf.write(s, this.pos, n, 'utf8');
    this.pos += n;
  }

  bytes(b: Uint8Array): void {
    this.varint32(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  double(d: number): void {
    this.buf.writeDoubleLE(d, this.pos);
    this.pos += 8;
  }
}
