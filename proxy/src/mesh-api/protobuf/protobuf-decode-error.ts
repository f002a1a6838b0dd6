/**
 * The one error the mesh protobuf decoders throw for bytes that are not a valid encoding.
 *
 * @module
 */

/** Malformed protobuf input: `offset` is where in the input the problem was found. */
export class ProtobufDecodeError extends Error {
  override readonly name = 'ProtobufDecodeError';
  /** Byte offset into the decoded buffer. */
  readonly offset: number;

  constructor(message: string, offset: number) {
    super(`${message} (at byte ${offset})`);
    this.offset = offset;
  }
}
