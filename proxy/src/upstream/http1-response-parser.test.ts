import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  HttpParseError,
  MAX_INTERIM_RESPONSES,
  type ResponseHead,
  ResponseParser,
} from './http1-response-parser.ts';

interface Parsed {
  heads: ResponseHead[];
  body: string;
  ended: boolean;
  rest: Buffer | undefined;
  parser: ResponseParser;
}

/** Feeds `raw` in pieces of `step` bytes (so every split point gets exercised). */
function parse(raw: string, step = Number.POSITIVE_INFINITY): Parsed {
  const out: Parsed = { heads: [], body: '', ended: false, rest: undefined, parser: undefined! };
  out.parser = new ResponseParser({
    head: (h) => out.heads.push(h),
    body: (c) => {
      out.body += c.toString('latin1');
    },
    end: () => {
      out.ended = true;
    },
  });
  const buf = Buffer.from(raw, 'latin1');
  for (let i = 0; i < buf.length; i += Math.min(step, buf.length)) {
    const rest = out.parser.feed(buf.subarray(i, i + Math.min(step, buf.length)));
    if (rest && rest.length > 0) out.rest = Buffer.concat([out.rest ?? Buffer.alloc(0), rest]);
  }
  return out;
}

const bad = (raw: string, message: RegExp) =>
  assert.throws(
    () => parse(raw),
    (err: unknown) => err instanceof HttpParseError && message.test(err.message),
  );

describe('a well-formed response', () => {
  for (const step of [Number.POSITIVE_INFINITY, 1, 3, 7]) {
    test(`Content-Length, fed ${step === Number.POSITIVE_INFINITY ? 'whole' : `${step} bytes at a time`}`, () => {
      const p = parse(
        'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n{"a":1}',
        step,
      );
      assert.equal(p.heads.length, 1);
      assert.equal(p.heads[0]!.statusCode, 200);
      assert.equal(p.heads[0]!.headers['content-type'], 'application/json');
      assert.equal(p.heads[0]!.keepAlive, true);
      assert.equal(p.body, '{"a":1}');
      assert.equal(p.ended, true);
      assert.equal(p.rest, undefined);
    });

    test(`chunked with extensions and trailers, fed ${step === Number.POSITIVE_INFINITY ? 'whole' : `${step} bytes at a time`}`, () => {
      const p = parse(
        'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\nA\r\n, world!!!\r\n0\r\nX-Trailer: 1\r\n\r\n',
        step,
      );
      assert.equal(p.body, 'hello, world!!!');
      assert.equal(p.ended, true);
      assert.equal(p.heads[0]!.keepAlive, true);
    });

    test(`chunked without trailers, fed ${step === Number.POSITIVE_INFINITY ? 'whole' : `${step} bytes at a time`}`, () => {
      const p = parse('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n', step);
      assert.equal(p.body, 'abc');
      assert.equal(p.ended, true);
      assert.equal(p.rest, undefined);
    });
  }

  test('interim responses are skipped; the final one is reported', () => {
    const p = parse(
      'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n',
    );
    assert.deepEqual(
      p.heads.map((h) => h.statusCode),
      [204],
    );
    assert.equal(p.ended, true);
  });

  test(`up to ${MAX_INTERIM_RESPONSES} interim responses are skipped, one more fails the exchange`, () => {
    const interim = 'HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n';
    const final = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';
    for (const step of [Number.POSITIVE_INFINITY, 5]) {
      const p = parse(interim.repeat(MAX_INTERIM_RESPONSES) + final, step);
      assert.deepEqual(
        p.heads.map((h) => h.statusCode),
        [200],
      );
      assert.equal(p.body, 'ok');
      assert.throws(
        () => parse(interim.repeat(MAX_INTERIM_RESPONSES + 1) + final, step),
        (err: unknown) =>
          err instanceof HttpParseError && /more than 5 interim \(1xx\) responses/.test(err.message),
      );
    }
  });

  test('204 and 304 have no body even with a length; 0 length ends at once', () => {
    assert.equal(parse('HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n').ended, true);
    assert.equal(parse('HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n').ended, true);
  });

  test('no framing: the body runs to the close, and the connection cannot be reused', () => {
    const p = parse('HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: 1\n\n');
    assert.equal(p.heads[0]!.keepAlive, false);
    assert.equal(p.ended, false);
    p.parser.end();
    assert.equal(p.ended, true);
    assert.equal(p.body, 'data: 1\n\n');
  });

  test('keep-alive: Connection: close on 1.1, and 1.0 only with keep-alive', () => {
    assert.equal(
      parse('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n').heads[0]!.keepAlive,
      false,
    );
    assert.equal(parse('HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n').heads[0]!.keepAlive, false);
    assert.equal(
      parse('HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n').heads[0]!.keepAlive,
      true,
    );
  });

  test('an HTTP/1.0 response that lists both keep-alive and close does not keep the connection', () => {
    const p = parse('HTTP/1.0 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 0\r\n\r\n');
    assert.equal(p.heads[0]!.keepAlive, false);
  });

  test('repeated fields are joined, Set-Cookie stays a list', () => {
    const p = parse(
      'HTTP/1.1 200 OK\r\nVary: a\r\nVary: b\r\nSet-Cookie: x=1\r\nSet-Cookie: y=2\r\nContent-Length: 2\r\n\r\nok',
    );
    assert.equal(p.heads[0]!.headers.vary, 'a, b');
    assert.deepEqual(p.heads[0]!.headers['set-cookie'], ['x=1', 'y=2']);
    assert.equal(p.body, 'ok');
  });

  test('bytes after the end of the response are handed back', () => {
    const p = parse('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA');
    assert.equal(p.body, 'ok');
    assert.equal(p.rest?.toString(), 'EXTRA');
  });
});

describe('a malformed response is refused', () => {
  test('a bad status line', () => {
    bad('HTTP/2 200 OK\r\n\r\n', /status line/);
    bad('HTTP/1.1 20 OK\r\n\r\n', /status line/);
    bad('ICY 200 OK\r\n\r\n', /status line/);
  });

  test('obsolete line folding, a name that is not a token, a value with a control character', () => {
    bad('HTTP/1.1 200 OK\r\nX-A: 1\r\n continued\r\nContent-Length: 0\r\n\r\n', /malformed|folded/);
    bad('HTTP/1.1 200 OK\r\nBad Name: 1\r\nContent-Length: 0\r\n\r\n', /token/);
    bad('HTTP/1.1 200 OK\r\nX-A: a\x00b\r\nContent-Length: 0\r\n\r\n', /forbidden character/);
    bad('HTTP/1.1 200 OK\r\nX-A: a\nX-B: b\r\nContent-Length: 0\r\n\r\n', /forbidden character/);
  });

  test('ambiguous framing: both lengths, conflicting lengths, bad lengths, other transfer codings', () => {
    bad('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n', /both/);
    bad('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n', /Content-Length/);
    bad('HTTP/1.1 200 OK\r\nContent-Length: 3, 4\r\n\r\n', /Content-Length/);
    // Equal ones too: RFC 9112 §6.3 would let a recipient merge them; llhttp refuses them.
    bad('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n', /Content-Length/);
    bad('HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\n\r\n', /Content-Length/);
    bad('HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n', /Content-Length/);
    bad('HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n', /Content-Length/);
    bad('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n', /Transfer-Encoding/);
    bad('HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\n', /Transfer-Encoding/);
    // Go's client reads these bodies to the close, llhttp reads chunks (RFC 9112 §6.1: faulty framing).
    bad('HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n', /HTTP\/1.0/);
    // llhttp reads `chunked` followed by a tab as another coding, and so the body to the close.
    bad('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\t\r\n\r\n', /tab/);
    bad('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked \t \r\n\r\n', /tab/);
  });

  test('a 204 or 304 with a Transfer-Encoding other than chunked is refused too (llhttp and Go refuse it)', () => {
    bad('HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunkedx\r\n\r\n', /Transfer-Encoding/);
    bad('HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: gzip\r\n\r\n', /Transfer-Encoding/);
  });

  test('optional whitespace before a Transfer-Encoding value, tabs included, is allowed', () => {
    const p = parse('HTTP/1.1 200 OK\r\nTransfer-Encoding:\t chunked \r\n\r\n2\r\nok\r\n0\r\n\r\n');
    assert.equal(p.body, 'ok');
    assert.equal(p.ended, true);
  });

  test('bad chunks', () => {
    bad('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', /chunk size/);
    bad('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n', /CRLF/);
    bad(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${'1'.repeat(5000)}`, /too long/);
  });

  test('a protocol switch, and a head that never ends', () => {
    bad('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n', /switched/);
    bad(`HTTP/1.1 200 OK\r\n${'X-A: 1\r\n'.repeat(10_000)}`, /too large/);
  });

  test('a body cut short by the close', () => {
    const p = parse('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort');
    assert.throws(() => p.parser.end(), HttpParseError);
    assert.equal(p.ended, false);
  });
});
