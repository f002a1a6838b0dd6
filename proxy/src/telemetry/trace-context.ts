/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/) for the proxy: parses the client's
 * `traceparent`, and produces the one the proxy sends upstream. The proxy is a participant in the
 * trace, not a transparent pipe: it keeps the caller's trace id but names its own span as the parent of
 * the upstream request, and it starts a new trace when the caller sent none or an invalid one, so that
 * every upstream request is traceable.
 *
 * Parsing follows the specification's processing model:
 *   - `version "-" trace-id "-" parent-id "-" trace-flags`, lower-case hex only;
 *   - version `00` is exactly 55 characters; version `ff` is invalid;
 *   - a higher version is parsed as `00` on its first 55 characters, and is invalid when more follows
 *     without a `-` (forward compatibility); the proxy then sends version `00`, the one it knows;
 *   - an all-zero trace id or parent id is invalid;
 *   - when the `traceparent` is missing or invalid, `tracestate` is dropped as well.
 *
 * Everything here is pure except the random ids, whose source is an option.
 *
 * @module
 */
import { randomFillSync } from 'node:crypto';

/** A parsed `traceparent`. */
export interface TraceParent {
  /** 32 lower-case hex characters, not all zero. */
  traceId: string;
  /** 16 lower-case hex characters, not all zero: the span of the caller. */
  parentId: string;
  /** The trace flags byte; bit 0 is `sampled`. */
  flags: number;
}

/** The trace context of one request through the proxy. */
export interface TraceContext {
  /** The trace this request belongs to: the caller's, or a new one. */
  traceId: string;
  /** The proxy's own span for this request; the parent of the upstream request. */
  spanId: string;
  /** The caller's span, when the caller sent a valid `traceparent`. */
  parentSpanId: string | undefined;
  /** The trace flags sent upstream. */
  flags: number;
  /** The `traceparent` header to send upstream. */
  traceparent: string;
  /** The `tracestate` header to send upstream: the caller's, only when its `traceparent` was valid. */
  tracestate: string | undefined;
}

/** Source of random bytes, a seam for tests. */
export type RandomBytes = (size: number) => Buffer;

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const ZERO_TRACE_ID = '0'.repeat(32);
const ZERO_SPAN_ID = '0'.repeat(16);
/** Flags defined by Trace Context Level 1: only `sampled`; unknown flags are zeroed when propagating. */
const KNOWN_FLAGS = 0x01;

/**
 * Parses a `traceparent` header value; undefined when it is absent or invalid.
 *
 * @example
 * parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
 * // → { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', parentId: '00f067aa0ba902b7', flags: 1 }
 */
export function parseTraceparent(value: string | string[] | undefined): TraceParent | undefined {
  // Several traceparent headers are invalid (node would join them with ", " anyway).
  if (typeof value !== 'string') return undefined;
  const v = value.trim();
  if (v.length < 55) return undefined;
  const version = v.slice(0, 2);
  if (version === 'ff') return undefined;
  let head = v;
  if (version === '00') {
    if (v.length !== 55) return undefined;
  } else if (v.length > 55) {
    // A future version may append fields, each introduced by "-".
    if (v[55] !== '-') return undefined;
    head = v.slice(0, 55);
  }
  const m = TRACEPARENT.exec(head);
  if (!m) return undefined;
  const [, , traceId, parentId, flags] = m as unknown as [string, string, string, string, string];
  if (traceId === ZERO_TRACE_ID || parentId === ZERO_SPAN_ID) return undefined;
  return { traceId, parentId, flags: Number.parseInt(flags, 16) };
}

/**
 * Serialises a version-00 `traceparent`.
 *
 * @example
 * formatTraceparent('4bf92f3577b34da6a3ce929d0e0e4736', '00f067aa0ba902b7', 1);
 * // → '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
 */
export function formatTraceparent(traceId: string, spanId: string, flags: number): string {
  return `00-${traceId}-${spanId}-${(flags & 0xff).toString(16).padStart(2, '0')}`;
}

const pool = Buffer.alloc(4096);
let poolOffset = pool.length;
/** `randomBytes` served from a pooled buffer refilled 4 KB at a time. */
export function pooledRandomBytes(bytes: number): Buffer {
  if (poolOffset + bytes > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  poolOffset += bytes;
  return pool.subarray(poolOffset - bytes, poolOffset);
}

/** Random lower-case hex of `bytes` bytes, never all zero. */
function randomId(bytes: number, random: RandomBytes): string {
  for (;;) {
    const id = random(bytes).toString('hex');
    if (/[^0]/.test(id)) return id;
  }
}

/**
 * Continues the caller's trace, or starts one: the context of one request through the proxy.
 *
 * @example
 * const trace = continueTrace(req.headers);
 * upstreamHeaders.traceparent = trace.traceparent;
 */
export function continueTrace(
  headers: Readonly<Record<string, string | string[] | undefined>>,
  random: RandomBytes = pooledRandomBytes,
): TraceContext {
  const parent = parseTraceparent(headers.traceparent);
  const spanId = randomId(8, random);
  if (!parent) {
    const traceId = randomId(16, random);
    return {
      traceId,
      spanId,
      parentSpanId: undefined,
      flags: 0x01,
      traceparent: formatTraceparent(traceId, spanId, 0x01),
      tracestate: undefined,
    };
  }
  const flags = parent.flags & KNOWN_FLAGS;
  const state = headers.tracestate;
  const tracestate = Array.isArray(state) ? state.join(',') : state;
  return {
    traceId: parent.traceId,
    spanId,
    parentSpanId: parent.parentId,
    flags,
    traceparent: formatTraceparent(parent.traceId, spanId, flags),
    tracestate: tracestate === undefined || tracestate.trim() === '' ? undefined : tracestate,
  };
}
