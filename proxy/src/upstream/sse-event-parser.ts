/**
 * An incremental parser of `text/event-stream` bodies (WHATWG HTML §9.2.6, "Interpreting an event
 * stream"): feed it text as it arrives, get complete events back. Lines end in CRLF, LF or CR; `data:`
 * lines join with LF; an event without `event:` is a `message`; comments and unknown fields are skipped;
 * a blank line dispatches, and an event with no data is not dispatched; a `retry:` of ASCII digits sets
 * the stream's reconnection time. Bounded: an event longer than `maxEventBytes` throws instead of
 * growing without limit.
 *
 * @module
 */

/** One dispatched event. */
export interface SseEvent {
  /** The `event:` field, `message` when absent. */
  event: string;
  /** The `data:` lines joined with LF. */
  data: string;
  /** The last `id:` seen on the stream so far, if any. */
  id: string | undefined;
}

export interface SseEventParser {
  /** Parses the next piece of the stream and returns the events it completed. */
  push(text: string): SseEvent[];
  /** The reconnection time in milliseconds the last valid `retry:` field set, if any. */
  readonly retryMs: number | undefined;
}

/**
 * Creates a parser for one stream.
 *
 * @throws RangeError from `push` once a single event exceeds `maxEventBytes` (default 16 MiB).
 * @example
 * const parser = createSseEventParser();
 * parser.push('event: endpoint\ndata: /messages?sessionId=1\n\n'); // [{ event: 'endpoint', data: '/messages?sessionId=1', id: undefined }]
 */
export function createSseEventParser(maxEventBytes = 16 * 1024 * 1024): SseEventParser {
  let buffer = '';
  // A CR at the end of a chunk may be the first half of a CRLF split across chunks.
  let skipLf = false;
  let event = '';
  let data: string[] = [];
  let dataSize = 0;
  let lastId: string | undefined;
  let retryMs: number | undefined;

  const line = (text: string, out: SseEvent[]) => {
    if (text === '') {
      if (data.length > 0) out.push({ event: event || 'message', data: data.join('\n'), id: lastId });
      event = '';
      data = [];
      dataSize = 0;
      return;
    }
    if (text.startsWith(':')) return;
    const colon = text.indexOf(':');
    const field = colon === -1 ? text : text.slice(0, colon);
    let value = colon === -1 ? '' : text.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') event = value;
    else if (field === 'data') {
      data.push(value);
      dataSize += value.length + 1;
      if (dataSize > maxEventBytes) throw new RangeError(`an SSE event exceeds ${maxEventBytes} bytes`);
    } else if (field === 'id' && !value.includes('\0')) lastId = value;
    else if (field === 'retry' && /^[0-9]+$/.test(value)) retryMs = Number(value);
  };

  return {
    push(text) {
      const out: SseEvent[] = [];
      let start = 0;
      if (skipLf && text.startsWith('\n')) start = 1;
      skipLf = false;
      buffer += start === 0 ? text : text.slice(start);
      let from = 0;
      for (;;) {
        const cr = buffer.indexOf('\r', from);
        const lf = buffer.indexOf('\n', from);
        const end = cr === -1 ? lf : lf === -1 ? cr : Math.min(cr, lf);
        if (end === -1) break;
        line(buffer.slice(from, end), out);
        if (buffer[end] === '\r') {
          if (end + 1 === buffer.length) {
            skipLf = true;
            from = end + 1;
            break;
          }
          from = buffer[end + 1] === '\n' ? end + 2 : end + 1;
        } else from = end + 1;
      }
      buffer = buffer.slice(from);
      if (buffer.length > maxEventBytes) throw new RangeError(`an SSE line exceeds ${maxEventBytes} bytes`);
      return out;
    },
    get retryMs() {
      return retryMs;
    },
  };
}

/**
 * The events of a byte stream (an HTTP response body of Buffers), decoded as UTF-8 across chunk
 * boundaries and parsed by `parser`, which the caller keeps to read `retryMs` afterwards. Leaving the
 * loop early releases the body.
 *
 * @example
 * for await (const event of sseEvents(response.body)) if (event.event === 'message') handle(event.data);
 */
export async function* sseEvents(
  body: AsyncIterable<unknown> | Iterable<unknown>,
  parser: SseEventParser = createSseEventParser(),
): AsyncGenerator<SseEvent> {
  const decoder = new TextDecoder();
  for await (const chunk of body) yield* parser.push(decoder.decode(chunk as Uint8Array, { stream: true }));
}
