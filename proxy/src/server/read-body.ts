/**
 * Reads a request body with a hard size limit, failing before buffering more than the limit.
 *
 * @module
 */
import type { IncomingMessage } from 'node:http';
import { TesseraError } from '../errors.ts';

export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) {
    throw new TesseraError('TESSERA_PAYLOAD_TOO_LARGE', `the request body exceeds ${limit} bytes`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit)
      throw new TesseraError('TESSERA_PAYLOAD_TOO_LARGE', `the request body exceeds ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
}
