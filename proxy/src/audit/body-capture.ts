/**
 * What audit events may carry of a request: a digest of the arguments always, and the bodies only
 * when the server enables capture — with secret-looking values redacted and a size cap.
 *
 * Redaction is structural: a body is parsed as JSON (an SSE body event by event), every value under a
 * key that looks like a secret (password, secret, token, api key, authorization, cookie, credential,
 * private key) becomes `"[REDACTED]"`, and the result is cut at the cap. A body that cannot be parsed
 * (not JSON, or cut by the capture limit before parsing) is never stored: a marker takes its place.
 *
 * @module
 */
import { hash } from 'node:crypto';

const SECRET_KEY =
  /pass(word|wd|phrase)?|secret|token|api[-_]?key|authorization|cookie|credential|private[-_]?key/i;
export const REDACTED = '[REDACTED]';
export const UNPARSEABLE = '[body withheld: not parseable JSON, so it could not be redacted]';

/** JSON with object keys sorted at every level, so equal values always give equal text. */
export function canonicalJson(value: unknown): string {
  // One string built in place: the digest runs on every call's arguments, and the map/filter/join
  // form allocated several arrays per object.
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += `${i > 0 ? ',' : ''}${canonicalJson(value[i])}`;
    return `${out}]`;
  }
  if (value && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    let out = '{';
    for (const k of Object.keys(obj).sort()) {
      const v = obj[k];
      if (v === undefined) continue;
      out += `${out.length > 1 ? ',' : ''}${JSON.stringify(k)}:${canonicalJson(v)}`;
    }
    return `${out}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * sha256 (hex) of the canonical JSON of a request's `params.arguments`; '' when there are none.
 *
 * @example
 * argumentsDigest({ b: 1, a: 2 }) === argumentsDigest({ a: 2, b: 1 }); // true
 */
export function argumentsDigest(args: unknown): string {
  if (args === undefined) return '';
  // The one-shot form: no Hash object per request.
  return hash('sha256', canonicalJson(args), 'hex');
}

/** A copy of a JSON value with the values of secret-looking keys replaced. */
export function redact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redact);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEY.test(k) ? REDACTED : redact(v);
    return out;
  }
  return value;
}

function redactJsonText(text: string): string | undefined {
  try {
    return JSON.stringify(redact(JSON.parse(text)));
  } catch {
    return undefined;
  }
}

/** Redacts an SSE body: each `data:` payload that is JSON is redacted; any other data withholds the body. */
function redactSse(text: string): string | undefined {
  const out: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (!line.startsWith('data:')) {
      out.push(line);
      continue;
    }
    const data = line.slice(line[5] === ' ' ? 6 : 5);
    const r = redactJsonText(data);
    if (r === undefined) return undefined;
    out.push(`data: ${r}`);
  }
  return out.join('\n');
}

/** Cuts a string to at most `maxBytes` of UTF-8 without splitting a character. */
function cut(text: string, maxBytes: number): { text: string; truncated: boolean } {
  const buf = Buffer.from(text, 'utf8');
  if (buf.length <= maxBytes) return { text, truncated: false };
  // Dropping a trailing partial character: the decoder's replacement char is removed.
  return {
    text: buf
      .subarray(0, maxBytes)
      .toString('utf8')
      .replace(/\uFFFD$/, ''),
    truncated: true,
  };
}

/**
 * The stored form of a captured body: redacted, then cut at `maxBytes`.
 *
 * @param complete false when the capture itself was cut (the raw body was longer than captured).
 */
export function capturedBody(
  raw: Buffer,
  contentType: string,
  maxBytes: number,
  complete: boolean,
): { text: string; truncated: boolean } {
  if (raw.length === 0) return { text: '', truncated: false };
  const text = raw.toString('utf8');
  const sse = contentType.startsWith('text/event-stream');
  // A cut SSE capture still parses up to its last complete event.
  const usable = sse && !complete ? text.slice(0, text.lastIndexOf('\n\n') + 1) : text;
  const redacted = sse ? redactSse(usable) : complete ? redactJsonText(usable) : undefined;
  if (redacted === undefined) return { text: UNPARSEABLE, truncated: !complete };
  const c = cut(redacted, maxBytes);
  return { text: c.text, truncated: c.truncated || !complete };
}
