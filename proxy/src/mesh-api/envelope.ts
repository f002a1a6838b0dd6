/**
 * The framing of Connect streaming bodies (https://connectrpc.com/docs/protocol/#streaming-request):
 * every message is an envelope of one flags byte, a 4-byte big-endian length and the payload. The
 * end-stream flag marks the server's last envelope, a JSON object with the stream's outcome.
 *
 * @module
 */
import { errorFromObject, MeshCallError } from './connect-error.ts';

export const COMPRESSED_FLAG = 0x01;
export const END_STREAM_FLAG = 0x02;

export interface Envelope {
  flags: number;
  data: Buffer;
}

/** One envelope: header and payload in one buffer, so a message reaches the socket in one write. */
export function encodeEnvelope(data: Uint8Array, flags = 0): Buffer {
  const out = Buffer.allocUnsafe(5 + data.length);
  out[0] = flags;
  out.writeUInt32BE(data.length, 1);
  out.set(data, 5);
  return out;
}

/**
 * Splits a byte stream into envelopes, whatever the chunk boundaries. An envelope longer than
 * `maxBytes` fails the stream before its payload is buffered.
 */
export function createEnvelopeReader(maxBytes: number): {
  push(chunk: Buffer): Envelope[];
  /** Bytes of an envelope that has started but not finished (non-zero at the end is a cut stream). */
  buffered(): number;
} {
  let pending: Buffer = Buffer.alloc(0);
  return {
    push(chunk) {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      const out: Envelope[] = [];
      while (pending.length >= 5) {
        const length = pending.readUInt32BE(1);
        if (length > maxBytes) {
          throw new MeshCallError(
            'resource_exhausted',
            `a message of ${length} bytes is over the limit of ${maxBytes}`,
          );
        }
        if (pending.length < 5 + length) break;
        out.push({ flags: pending[0]!, data: pending.subarray(5, 5 + length) });
        pending = pending.subarray(5 + length);
      }
      return out;
    },
    buffered: () => pending.length,
  };
}

/**
 * The outcome in an end-stream envelope: undefined for success, else the error it carries.
 *
 * @throws MeshCallError when the envelope is not the JSON object the protocol defines.
 */
export function endStreamError(data: Buffer): MeshCallError | undefined {
  let value: unknown;
  try {
    value = JSON.parse(data.toString('utf8'));
  } catch {
    throw new MeshCallError('internal', 'the end of the stream is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new MeshCallError('internal', 'the end of the stream is not a JSON object');
  }
  const error = (value as { error?: unknown }).error;
  if (error === undefined || error === null) return undefined;
  const err = errorFromObject(error, 'unknown');
  if (!err) throw new MeshCallError('internal', 'the end of the stream has an invalid "error"');
  return err;
}
