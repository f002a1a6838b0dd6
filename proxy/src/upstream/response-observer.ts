/**
 * Watches a response body as it streams through, without holding it back, to learn the JSON-RPC
 * error code (if any) of the response to one request. JSON bodies are inspected up to a cap; SSE
 * bodies are scanned event by event for the message that answers the request.
 *
 * @module
 */
import { answeredErrorCode, type JsonRpcId } from '../server/jsonrpc.ts';

const JSON_INSPECT_CAP = 1024 * 1024;

export interface ResponseObserver {
  write(chunk: Buffer): void;
  /** The error code of the answer, 0 if it succeeded or could not be seen. */
  errorCode(): number;
}

function errorCodeOf(text: string, id: JsonRpcId | undefined): number | undefined {
  try {
    const msg = JSON.parse(text) as { id?: unknown; error?: { code?: unknown }; result?: unknown };
    if (id !== undefined && msg.id !== id) return undefined;
    if (msg.error) return answeredErrorCode(msg.error.code);
    if ('result' in msg) return 0;
  } catch {
    // Not JSON: nothing to learn.
  }
  return undefined;
}

export function observeResponse(contentType: string, id: JsonRpcId | undefined): ResponseObserver {
  if (contentType.startsWith('text/event-stream')) {
    let pending = '';
    let data: string[] = [];
    let code: number | undefined;
    return {
      write(chunk) {
        if (code !== undefined) return;
        pending += chunk.toString('utf8');
        let nl = pending.indexOf('\n');
        while (nl !== -1 && code === undefined) {
          const line = pending.slice(0, nl).replace(/\r$/, '');
          pending = pending.slice(nl + 1);
          if (line === '') {
            if (data.length > 0) code = errorCodeOf(data.join('\n'), id);
            data = [];
          } else if (line.startsWith('data:')) {
            data.push(line.slice(line[5] === ' ' ? 6 : 5));
          }
          nl = pending.indexOf('\n');
        }
        if (pending.length > JSON_INSPECT_CAP) pending = '';
      },
      errorCode: () => code ?? 0,
    };
  }
  if (contentType.startsWith('application/json')) {
    const chunks: Buffer[] = [];
    let size = 0;
    return {
      write(chunk) {
        if (size + chunk.length > JSON_INSPECT_CAP) return;
        chunks.push(chunk);
        size += chunk.length;
      },
      errorCode: () => {
        // Most answers arrive in one chunk: no copy then.
        const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
        // Most answers succeed: without an "error" member there is nothing to learn, so skip the parse.
        if (!body.includes('"error"')) return 0;
        return errorCodeOf(body.toString('utf8'), id) ?? 0;
      },
    };
  }
  return { write() {}, errorCode: () => 0 };
}
