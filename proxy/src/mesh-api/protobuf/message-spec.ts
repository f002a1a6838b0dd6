/**
 * Field tables that describe protobuf messages to the generic codec (message-codec.ts). They mirror
 * what protobuf-es's generated descriptors say about the same messages, and message-spec tests check
 * them against those descriptors, so a field added to a .proto fails the tests until it is added here.
 *
 * @module
 */

/** Scalar types, numbered as protobuf-es's `ScalarType` (descriptor.proto's FieldDescriptorProto.Type). */
export const Scalar = {
  DOUBLE: 1,
  INT64: 3,
  UINT64: 4,
  INT32: 5,
  BOOL: 8,
  STRING: 9,
  BYTES: 12,
  UINT32: 13,
} as const;
export type Scalar = (typeof Scalar)[keyof typeof Scalar];

/**
 * One field. `kind` as protobuf-es's `fieldKind`: `scalar` and `message` are singular, `list` is
 * repeated (of `scalar` or `message`), `map` has string keys and `scalar` values.
 */
export type FieldSpec =
  | { readonly no: number; readonly name: string; readonly kind: 'scalar'; readonly scalar: Scalar }
  | { readonly no: number; readonly name: string; readonly kind: 'message'; readonly message: MessageSpec }
  | { readonly no: number; readonly name: string; readonly kind: 'list'; readonly scalar: Scalar }
  | { readonly no: number; readonly name: string; readonly kind: 'list'; readonly message: MessageSpec }
  | { readonly no: number; readonly name: string; readonly kind: 'map'; readonly scalar: Scalar };

export interface MessageSpec {
  /** The full protobuf name, e.g. `tessera.mesh.v1.Node`; decoded messages carry it as `$typeName`. */
  readonly typeName: string;
  /** In field-number order, the order fields are encoded in. */
  readonly fields: readonly FieldSpec[];
  /** `byNo[n]` is the field numbered n. */
  readonly byNo: readonly (FieldSpec | undefined)[];
}

/**
 * Builds a message table.
 *
 * @throws TypeError for what the codec does not implement: repeated numeric fields (packed encoding)
 *   and field numbers above 2^16 (the tables are indexed by number).
 */
export function messageSpec(typeName: string, fields: readonly FieldSpec[]): MessageSpec {
  const sorted = [...fields].sort((a, b) => a.no - b.no);
  const byNo: (FieldSpec | undefined)[] = [];
  for (const f of sorted) {
    if (!Number.isInteger(f.no) || f.no < 1 || f.no > 0xffff || byNo[f.no] !== undefined) {
      throw new TypeError(`${typeName}.${f.name}: bad or duplicate field number ${f.no}`);
    }
    if (f.kind === 'list' && 'scalar' in f && f.scalar !== Scalar.STRING && f.scalar !== Scalar.BYTES) {
      throw new TypeError(`${typeName}.${f.name}: repeated numeric fields (packed) are not supported`);
    }
    byNo[f.no] = f;
  }
  return { typeName, fields: sorted, byNo };
}
