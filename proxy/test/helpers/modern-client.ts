/**
 * A hand-rolled 2026-07-28 (stateless) client for socket tests: the SDK clients in the repository do not
 * speak that revision yet. Every request carries the `_meta` envelope and the matching metadata headers.
 *
 * @module
 */
import { sseEvents } from '../fixtures/stdio-harness.ts';

export const MODERN = '2026-07-28';

export interface ModernAnswer {
  status: number;
  contentType: string;
  /** Every JSON-RPC message received, in order (one for a JSON answer). */
  messages: Record<string, unknown>[];
  /** The last message: the answer to the request. */
  answer: { id?: unknown; result?: Record<string, unknown>; error?: { code: number; message: string } };
}

export interface ModernRequestOptions {
  accept?: string;
  signal?: AbortSignal;
  /** Headers besides the ones the revision requires, e.g. `Mcp-Param-*`. */
  headers?: Record<string, string>;
}

/**
 * POSTs one stateless request to the MCP endpoint at `url`, with the `_meta` envelope (entries in
 * `params._meta` override its defaults) and the matching metadata headers, and returns the response
 * unread: for streams a test reads as they go.
 */
export function modernRequest(
  url: string,
  token: string,
  id: string | number,
  method: string,
  params: Record<string, unknown> = {},
  options: ModernRequestOptions = {},
): Promise<Response> {
  const meta = {
    'io.modelcontextprotocol/protocolVersion': MODERN,
    'io.modelcontextprotocol/clientCapabilities': {},
    'io.modelcontextprotocol/clientInfo': { name: 'modern-test', version: '1' },
    ...(params._meta as Record<string, unknown> | undefined),
  };
  const headers: Record<string, string> = {
    authorization: `Bearer ${token}`,
    'content-type': 'application/json',
    accept: options.accept ?? 'application/json, text/event-stream',
    'mcp-protocol-version': MODERN,
    'mcp-method': method,
  };
  const name = method === 'resources/read' ? params.uri : params.name;
  if (['tools/call', 'prompts/get', 'resources/read'].includes(method) && typeof name === 'string')
    headers['mcp-name'] = name;
  return fetch(url, {
    method: 'POST',
    headers: { ...headers, ...options.headers },
    body: JSON.stringify({ jsonrpc: '2.0', id, method, params: { ...params, _meta: meta } }),
    signal: options.signal,
  });
}

/** POSTs one stateless request to the MCP endpoint at `url` and reads the whole answer. */
export async function modernCall(
  url: string,
  token: string,
  id: string | number,
  method: string,
  params: Record<string, unknown> = {},
  options: ModernRequestOptions = {},
): Promise<ModernAnswer> {
  const res = await modernRequest(url, token, id, method, params, options);
  const contentType = res.headers.get('content-type') ?? '';
  const messages: Record<string, unknown>[] = [];
  if (contentType.startsWith('text/event-stream')) {
    for await (const event of sseEvents(res)) if (event.data) messages.push(JSON.parse(event.data));
  } else {
    const text = await res.text();
    if (text) messages.push(JSON.parse(text));
  }
  return {
    status: res.status,
    contentType,
    messages,
    answer: (messages.at(-1) ?? {}) as ModernAnswer['answer'],
  };
}

/** An open `subscriptions/listen` stream, read as its messages come. */
export interface ListenStream {
  status: number;
  contentType: string;
  /** Every message received so far, in order. */
  readonly messages: Record<string, unknown>[];
  /** The next message not yet taken; fails naming `what` when the stream ends or none comes in time. */
  next(what: string): Promise<Record<string, unknown>>;
  /** Messages received and not yet taken with `next`. */
  readonly queued: number;
  /** Settles once the stream has ended, however it ended. */
  readonly ended: Promise<void>;
  close(): void;
}

/** Opens a `subscriptions/listen` stream with the filter `notifications`. */
export async function openListenStream(
  url: string,
  token: string,
  id: string,
  notifications: Record<string, unknown>,
  waitMs = 15_000,
): Promise<ListenStream> {
  const controller = new AbortController();
  const res = await modernRequest(
    url,
    token,
    id,
    'subscriptions/listen',
    { notifications },
    { signal: controller.signal },
  );
  const messages: Record<string, unknown>[] = [];
  let taken = 0;
  let done = false;
  let wake = () => {};
  const ended = (async () => {
    try {
      for await (const e of sseEvents(res)) {
        if (!e.data) continue;
        messages.push(JSON.parse(e.data));
        wake();
      }
    } catch {
      // Aborted by the test, or cut by the proxy closing.
    }
    done = true;
    wake();
  })();
  return {
    status: res.status,
    contentType: res.headers.get('content-type') ?? '',
    messages,
    async next(what) {
      const deadline = Date.now() + waitMs;
      while (taken === messages.length) {
        if (done) throw new Error(`the stream ended before ${what}`);
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`timed out waiting for ${what}`);
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, left).unref();
        });
      }
      return messages[taken++]!;
    },
    get queued() {
      return messages.length - taken;
    },
    ended,
    close: () => controller.abort(),
  };
}
