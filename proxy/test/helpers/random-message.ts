/**
 * Random protobuf-es message inits for any descriptor, for differential tests of hand-written codecs:
 * fields present or left out, lists and maps of 0..n entries, strings with non-ASCII and astral
 * characters (lone surrogates on request), edge-case numbers, sub-messages present or absent.
 */
import type { DescField, DescMessage } from '@bufbuild/protobuf';
import { ScalarType } from '@bufbuild/protobuf';

export interface RandomOptions {
  /** Strings may hold lone surrogates (toBinary writes them as U+FFFD, so they do not round-trip). */
  loneSurrogates?: boolean;
}

export function randomInit(
  desc: DescMessage,
  next: () => number,
  options: RandomOptions = {},
  depth = 0,
): Record<string, unknown> {
  const int = (n: number) => Math.floor(next() * n);
  const init: Record<string, unknown> = {};
  for (const field of desc.fields) {
    if (next() < 0.25) continue;
    const value = randomField(field, next, int, options, depth);
    if (value !== undefined) init[field.localName] = value;
  }
  return init;
}

function randomField(
  field: DescField,
  next: () => number,
  int: (n: number) => number,
  options: RandomOptions,
  depth: number,
): unknown {
  const count = () => (next() < 0.1 ? 8 + int(20) : int(4));
  switch (field.fieldKind) {
    case 'scalar':
      return randomScalar(field.scalar, next, int, options);
    case 'message':
      return depth > 6 ? undefined : randomInit(field.message, next, options, depth + 1);
    case 'list':
      return Array.from({ length: count() }, () =>
        field.listKind === 'message'
          ? randomInit(field.message, next, options, depth + 1)
          : field.listKind === 'scalar'
            ? randomScalar(field.scalar, next, int, options)
            : 0,
      );
    case 'map': {
      const record: Record<string, unknown> = {};
      for (let i = count(); i > 0; i--) {
        const key = randomString(next, int, options);
        record[key] = field.mapKind === 'scalar' ? randomScalar(field.scalar, next, int, options) : undefined;
      }
      return record;
    }
    default:
      return undefined;
  }
}

const alphabets = [
  'abcdefghijklmnopqrstuvwxyz0123456789-_./:',
  'éüßçñøåæœ',
  '漢字仮名한국어',
  '😀🚀𝄞🀄',
  '\u0000\u007f\u0080\u07ff\u0800\uffff\ufeff',
];

function randomString(next: () => number, int: (n: number) => number, options: RandomOptions): string {
  const r = next();
  if (r < 0.15) return '';
  const length = r < 0.9 ? int(20) : 60 + int(200);
  let s = '';
  for (let i = 0; i < length; i++) {
    if (options.loneSurrogates && next() < 0.05) {
      s += String.fromCharCode(0xd800 + int(0x800));
      continue;
    }
    const chars = [...alphabets[next() < 0.7 ? 0 : 1 + int(alphabets.length - 1)]!];
    s += chars[int(chars.length)];
  }
  return s;
}

function pick<T>(xs: readonly T[], int: (n: number) => number): T {
  return xs[int(xs.length)]!;
}

function random64(next: () => number): bigint {
  return (BigInt(Math.floor(next() * 2 ** 32)) << 32n) | BigInt(Math.floor(next() * 2 ** 32));
}

function randomScalar(
  type: ScalarType,
  next: () => number,
  int: (n: number) => number,
  options: RandomOptions,
): unknown {
  const edge = next() < 0.4;
  switch (type) {
    case ScalarType.STRING:
      return randomString(next, int, options);
    case ScalarType.BYTES:
      return Uint8Array.from({ length: next() < 0.1 ? 200 + int(300) : int(40) }, () => int(256));
    case ScalarType.BOOL:
      return next() < 0.5;
    case ScalarType.UINT32:
      return edge
        ? pick([0, 1, 127, 128, 16383, 16384, 2 ** 28 - 1, 2 ** 28, 2 ** 32 - 1], int)
        : int(2 ** 32);
    case ScalarType.INT32:
      return edge ? pick([0, 1, -1, 127, 128, 2 ** 31 - 1, -(2 ** 31)], int) : int(2 ** 32) - 2 ** 31;
    case ScalarType.SINT32:
      return edge ? pick([0, 1, -1, 2 ** 31 - 1, -(2 ** 31)], int) : int(2 ** 32) - 2 ** 31;
    case ScalarType.UINT64:
      return edge ? pick([0n, 1n, 127n, 128n, 2n ** 32n, 2n ** 63n, 2n ** 64n - 1n], int) : random64(next);
    case ScalarType.INT64:
      return edge
        ? pick([0n, 1n, -1n, 2n ** 63n - 1n, -(2n ** 63n)], int)
        : BigInt.asIntN(64, random64(next));
    case ScalarType.DOUBLE:
      return edge
        ? pick([0, -0, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 5e-324, 1.5], int)
        : (next() - 0.5) * 10 ** int(20);
    default:
      throw new Error(`randomScalar: no generator for scalar type ${type}`);
  }
}
