import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type RequestHead, RequestParseError, RequestParser } from './request-parser.ts';

interface Parsed {
  heads: RequestHead[];
  body: string;
  ended: boolean;
  rest: Buffer | undefined;
}

const WHOLE = Number.POSITIVE_INFINITY;
const how = (step: number) => (step === WHOLE ? 'whole' : `${step} byte(s) at a time`);

/** Feeds `raw` in pieces of `step` bytes, so that every split point gets exercised. */
function parse(raw: string | Buffer, step = WHOLE, maxHeadBytes = 16 * 1024): Parsed {
  const out: Parsed = { heads: [], body: '', ended: false, rest: undefined };
  const parser = new RequestParser(
    {
      head: (h) => out.heads.push(h),
      body: (c) => {
        out.body += c.toString('latin1');
      },
      end: () => {
        out.ended = true;
      },
    },
    maxHeadBytes,
  );
  const buf = typeof raw === 'string' ? Buffer.from(raw, 'latin1') : raw;
  const size = Math.min(step, buf.length);
  for (let i = 0; i < buf.length; i += size) {
    const rest = parser.feed(buf.subarray(i, i + size));
    if (rest && rest.length > 0) out.rest = Buffer.concat([out.rest ?? Buffer.alloc(0), rest]);
  }
  return out;
}

/** Whole and byte by byte: a refusal must not depend on how the bytes were split. */
function refused(raw: string | Buffer, status: number, maxHeadBytes?: number): void {
  for (const step of [WHOLE, 1]) {
    assert.throws(
      () => parse(raw, step, maxHeadBytes),
      (err: unknown) => err instanceof RequestParseError && err.status === status,
      `expected ${status} when fed ${how(step)}: ${JSON.stringify(raw.toString().slice(0, 120))}`,
    );
  }
}

const get = (fields = 'Host: a\r\n', line = 'GET / HTTP/1.1') => `${line}\r\n${fields}\r\n`;

describe('a well-formed request', () => {
  for (const step of [WHOLE, 1, 5]) {
    test(`a simple GET, fed ${how(step)}`, () => {
      const p = parse(
        get('Host: example.com\r\nAccept: */*\r\nX-Multi: 1\r\nx-multi: 2\r\n', 'GET /mcp?a=b HTTP/1.1'),
        step,
      );
      assert.equal(p.heads.length, 1);
      const h = p.heads[0]!;
      assert.equal(h.method, 'GET');
      assert.equal(h.url, '/mcp?a=b');
      assert.equal(h.httpVersion, '1.1');
      assert.equal(h.headers.host, 'example.com');
      assert.equal(h.headers.accept, '*/*');
      assert.equal(h.headers['x-multi'], '1, 2');
      assert.equal(h.keepAlive, true);
      assert.equal(h.expectContinue, false);
      assert.equal(p.body, '');
      assert.equal(p.ended, true);
      assert.equal(p.rest, undefined);
    });

    test(`chunked body with extensions and trailers, fed ${how(step)}`, () => {
      const p = parse(
        `${get('Host: a\r\nTransfer-Encoding: chunked\r\n', 'POST /mcp HTTP/1.1')}` +
          '5;name=value\r\nhello\r\nA;a=1;b="x \\"y\\""\r\n, world!!!\r\n0;last\r\nX-Trailer: 1\r\nX-Other: 2\r\n\r\n',
        step,
      );
      assert.equal(p.heads[0]!.headers['transfer-encoding'], 'chunked');
      assert.equal(p.body, 'hello, world!!!');
      assert.equal(p.ended, true);
      assert.equal(p.rest, undefined);
    });

    test(`chunked body without trailers, then a pipelined request, fed ${how(step)}`, () => {
      const next = get('Host: a\r\n', 'GET /next HTTP/1.1');
      const p = parse(
        `${get('Host: a\r\nTransfer-Encoding: Chunked\r\n', 'POST / HTTP/1.1')}3\r\nabc\r\n0\r\n\r\n${next}`,
        step,
      );
      assert.equal(p.body, 'abc');
      assert.equal(p.ended, true);
      assert.equal(p.rest?.toString('latin1'), next);
    });
  }

  test('a Content-Length body fed one byte at a time arrives whole, and ends the request', () => {
    const body = '{"jsonrpc":"2.0","id":1,"method":"ping"}';
    const p = parse(
      `${get(`Host: a\r\nContent-Length: ${body.length}\r\n`, 'POST /mcp HTTP/1.1')}${body}`,
      1,
    );
    assert.equal(p.heads.length, 1);
    assert.equal(p.heads[0]!.method, 'POST');
    assert.equal(p.body, body);
    assert.equal(p.ended, true);
    assert.equal(p.rest, undefined);
  });

  test('the bytes after the request are handed back, not parsed', () => {
    const second = `${get('Host: a\r\n', 'GET /2 HTTP/1.1')}${get('Host: a\r\n', 'GET /3 HTTP/1.1')}`;
    const p = parse(`${get('Host: a\r\nContent-Length: 3\r\n', 'POST /1 HTTP/1.1')}abc${second}`);
    assert.equal(p.heads.length, 1);
    assert.equal(p.heads[0]!.url, '/1');
    assert.equal(p.body, 'abc');
    assert.equal(p.rest?.toString('latin1'), second);
  });

  test('a body-less request hands back what follows its head', () => {
    const p = parse(`${get()}POST`);
    assert.equal(p.ended, true);
    assert.equal(p.rest?.toString('latin1'), 'POST');
  });

  test('Content-Length: 0 ends the request with the head', () => {
    const p = parse(get('Host: a\r\nContent-Length: 0\r\n', 'POST / HTTP/1.1'));
    assert.equal(p.ended, true);
    assert.equal(p.body, '');
  });

  for (const step of [WHOLE, 1]) {
    test(`empty lines before the request line are ignored, fed ${how(step)}`, () => {
      const p = parse(`\r\n\r\n\r\n${get()}`, step);
      assert.equal(p.heads.length, 1);
      assert.equal(p.heads[0]!.url, '/');
      assert.equal(p.ended, true);
    });
  }

  test('an absolute-form target is reduced to its path and query', () => {
    const cases: [string, string][] = [
      ['http://example.com/mcp?x=1&y=2', '/mcp?x=1&y=2'],
      ['https://example.com:8443/a/b', '/a/b'],
      ['HTTP://example.com', '/'],
    ];
    for (const [target, url] of cases) {
      const p = parse(get('Host: example.com\r\n', `GET ${target} HTTP/1.1`));
      assert.equal(p.heads[0]!.url, url, target);
    }
  });

  test("an absolute-form target's authority replaces Host, as RFC 9112 §3.2.2 requires", () => {
    const cases: [string, string, string][] = [
      ['http://other.example:8080/mcp', 'Host: example.com\r\n', 'other.example:8080'],
      ['https://[::1]/mcp', 'Host: example.com\r\n', '[::1]'],
      ['http://other.example/mcp', 'Host: \r\n', 'other.example'],
      ['http://other.example/mcp', '', 'other.example'],
    ];
    for (const [target, fields, host] of cases) {
      const version = fields === '' ? 'HTTP/1.0' : 'HTTP/1.1';
      assert.equal(parse(get(fields, `GET ${target} ${version}`)).heads[0]!.headers.host, host, target);
    }
  });

  test('OPTIONS * is kept as it is', () => {
    assert.equal(parse(get('Host: a\r\n', 'OPTIONS * HTTP/1.1')).heads[0]!.url, '*');
  });

  test('keep-alive: the default in HTTP/1.1, to be asked for in HTTP/1.0', () => {
    const cases: [string, string, boolean][] = [
      ['1.1', '', true],
      ['1.1', 'Connection: close\r\n', false],
      ['1.1', 'Connection: Upgrade, Close\r\n', false],
      ['1.1', 'Connection: keep-alive\r\n', true],
      ['1.0', '', false],
      ['1.0', 'Connection: keep-alive\r\n', true],
      ['1.0', 'Connection: Keep-Alive\r\n', true],
      ['1.0', 'Connection: keep-alive, close\r\n', false],
      ['1.0', 'Connection: close\r\n', false],
    ];
    for (const [version, field, keepAlive] of cases) {
      const p = parse(get(`Host: a\r\n${field}`, `GET / HTTP/${version}`));
      assert.equal(p.heads[0]!.httpVersion, version);
      assert.equal(p.heads[0]!.keepAlive, keepAlive, `HTTP/${version} ${JSON.stringify(field)}`);
    }
  });

  test('an HTTP/1.0 request needs no Host', () => {
    const p = parse('GET / HTTP/1.0\r\n\r\n');
    assert.equal(p.heads[0]!.httpVersion, '1.0');
    assert.equal(p.ended, true);
  });

  test('Expect: 100-continue is flagged in HTTP/1.1, and ignored in HTTP/1.0', () => {
    const post = (version: string, expect: string) =>
      parse(get(`Host: a\r\nContent-Length: 2\r\n${expect}`, `POST / HTTP/${version}`)).heads[0]!;
    assert.equal(post('1.1', 'Expect: 100-continue\r\n').expectContinue, true);
    assert.equal(post('1.1', 'Expect: 100-Continue\r\n').expectContinue, true);
    assert.equal(post('1.1', '').expectContinue, false);
    assert.equal(post('1.0', 'Expect: 100-continue\r\n').expectContinue, false);
  });

  test('a head of exactly the limit is accepted, however it is split', () => {
    const limit = 200;
    const unpadded = get('Host: a\r\nX-Pad: \r\n');
    // The limit counts the head without its final CRLF CRLF.
    const padded = get(`Host: a\r\nX-Pad: ${'p'.repeat(limit - (unpadded.length - 4))}\r\n`);
    assert.equal(padded.length - 4, limit);
    assert.equal(parse(padded, WHOLE, limit).heads.length, 1);
    assert.equal(parse(padded, 1, limit).heads.length, 1);
  });
});

describe('a request that is refused', () => {
  test('Content-Length together with Transfer-Encoding: 400', () => {
    refused(
      `${get('Host: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n', 'POST / HTTP/1.1')}0\r\n\r\n`,
      400,
    );
    refused(
      `${get('Host: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n', 'POST / HTTP/1.1')}`,
      400,
    );
  });

  test('a Transfer-Encoding other than exactly chunked: 501', () => {
    for (const te of [
      'Transfer-Encoding: gzip, chunked\r\n',
      'Transfer-Encoding: chunked, chunked\r\n',
      'Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n',
      'Transfer-Encoding: identity\r\n',
      'Transfer-Encoding: chunked;q=1\r\n',
      'Transfer-Encoding: \r\n',
    ]) {
      refused(`${get(`Host: a\r\n${te}`, 'POST / HTTP/1.1')}0\r\n\r\n`, 501);
    }
  });

  test('Transfer-Encoding in an HTTP/1.0 request: 400', () => {
    refused(`${get('Transfer-Encoding: chunked\r\n', 'POST / HTTP/1.0')}0\r\n\r\n`, 400);
  });

  test('conflicting, repeated or malformed Content-Lengths: 400', () => {
    for (const cl of [
      // RFC 9112 §6.3 allows merging equal ones; llhttp refuses them (Go's net/http refuses a list).
      'Content-Length: 3\r\nContent-Length: 3',
      'Content-Length: 3, 3',
      'Content-Length: 5, 6',
      'Content-Length: 5\r\nContent-Length: 6',
      'Content-Length: -1',
      'Content-Length: 0x5',
      'Content-Length: +5',
      'Content-Length: 5.0',
      'Content-Length: 1e3',
      'Content-Length: ',
      'Content-Length: 5,',
      'Content-Length: 1234567890123456',
    ]) {
      refused(`${get(`Host: a\r\n${cl}\r\n`, 'POST / HTTP/1.1')}hello`, 400);
    }
  });

  test('a chunk line whose extensions do not follow the grammar, or with whitespace: 400', () => {
    for (const line of [
      '1 ;a',
      '1\t;a',
      '1; a',
      '1;a =b',
      '1;a= b',
      '1;',
      '1;a=',
      '1;=b',
      '1;a="x',
      '1;a=b c',
      '1 ',
      ' 1',
      '1;a=x"y',
    ]) {
      refused(
        `${get('Host: a\r\nTransfer-Encoding: chunked\r\n', 'POST / HTTP/1.1')}${line}\r\nx\r\n0\r\n\r\n`,
        400,
      );
    }
  });

  test('obsolete line folding: 400', () => {
    refused(get('Host: a\r\nX-Folded: one\r\n two\r\n'), 400);
    refused(get('Host: a\r\nX-Folded: one\r\n\ttwo\r\n'), 400);
  });

  test('a header name with whitespace before the colon, or not a token: 400', () => {
    refused(get('Host : a\r\n'), 400);
    refused(get('Host: a\r\nX-A\t: 1\r\n'), 400);
    refused(get('Host: a\r\n: empty\r\n'), 400);
    refused(get('Host: a\r\nX(A): 1\r\n'), 400);
    refused(get('Host: a\r\nno colon\r\n'), 400);
  });

  test('NUL or CR in a header value: 400', () => {
    refused(get('Host: a\r\nX-A: a\0b\r\n'), 400);
    refused(get('Host: a\r\nX-A: a\rb\r\n'), 400);
    refused(get('Host: a\r\nX-A: a\r\r\n'), 400);
  });

  test('bare LF line ends never make a request, however many bytes follow', () => {
    // A lenient parser would see two requests here; this one must never see one with other framing.
    const smuggled = [
      'GET / HTTP/1.1\nHost: a\n\n',
      'GET / HTTP/1.1\nHost: a\n\nGET /admin HTTP/1.1\r\nHost: a\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: a\nContent-Length: 5\r\n\r\nGET /admin HTTP/1.1\r\nHost: a\r\n\r\n',
      'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 40\n\r\n\r\nGET /admin HTTP/1.1\r\nHost: a\r\n\r\n',
      'GET /\nHost:a\n\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n',
    ];
    for (const raw of smuggled) {
      for (const step of [WHOLE, 1]) {
        let p: Parsed | undefined;
        try {
          p = parse(raw, step);
        } catch (err) {
          assert.ok(err instanceof RequestParseError, String(err));
          assert.equal(err.status, 400);
          continue;
        }
        assert.equal(p.heads.length, 0, `${JSON.stringify(raw)} fed ${how(step)} made a request`);
      }
    }
  });

  test('an HTTP/1.1 request without exactly one Host: 400', () => {
    refused('GET / HTTP/1.1\r\n\r\n', 400);
    refused(get('Host: a\r\nHost: b\r\n'), 400);
    refused(get('Host: a\r\nHost: a\r\n'), 400);
    refused(get('Host: a, b\r\n'), 400);
  });

  // RFC 9112 §3.2: any request with more than one Host line, or one that is not a host, gets 400; a
  // parser that takes the first of two, or cuts a value at a space, reads another host.
  test('a repeated Host, in HTTP/1.0 too, or one that is not a host: 400', () => {
    refused(get('Host: a\r\nHost: b\r\n', 'GET / HTTP/1.0'), 400);
    refused(get('Host: a\r\nHost: a\r\n', 'GET / HTTP/1.0'), 400);
    for (const host of ['a b', 'a\xffb', 'a/b', 'a@b', 'a:80x', '[::1', '[zz]', 'a"b', 'a\tb']) {
      refused(get(`Host: ${host}\r\n`), 400);
    }
    for (const host of ['a', 'a.example:8080', '[::1]:80', '127.0.0.1', '', 'xn--bcher-kva.example', 'a:']) {
      assert.equal(parse(get(`Host: ${host}\r\n`)).heads[0]!.headers.host, host, host);
    }
    assert.equal(parse('GET / HTTP/1.0\r\n\r\n').heads.length, 1);
  });

  test('an absolute-form target with userinfo or without a valid authority: 400', () => {
    for (const target of [
      'http://user@a/',
      'http://user:pw@a/',
      'http:///x',
      'http://a b/',
      'http://[zz]/',
    ]) {
      refused(get('Host: a\r\n', `GET ${target} HTTP/1.1`), 400);
    }
  });

  test('an HTTP version other than 1.0 and 1.1: 505', () => {
    refused(get('Host: a\r\n', 'GET / HTTP/2.0'), 505);
    refused(get('Host: a\r\n', 'GET / HTTP/1.2'), 505);
    refused(get('Host: a\r\n', 'GET / HTTP/0.9'), 505);
  });

  test('a malformed request line: 400', () => {
    refused(get('Host: a\r\n', 'GET /  HTTP/1.1'), 400);
    refused(get('Host: a\r\n', 'GET / http/1.1'), 400);
    refused(get('Host: a\r\n', 'GET / HTTP/1.10'), 400);
    refused(get('Host: a\r\n', 'GET /'), 400);
    refused(get('Host: a\r\n', 'G(T / HTTP/1.1'), 400);
  });

  test('a head over the limit: 431', () => {
    const limit = 200;
    refused(get(`Host: a\r\nX-Pad: ${'p'.repeat(limit)}\r\n`), 431, limit);
    // One that never ends is refused as soon as it passes the limit, not buffered on.
    assert.throws(
      () => parse(`GET / HTTP/1.1\r\nX-Pad: ${'p'.repeat(limit)}`, 1, limit),
      (err: unknown) => err instanceof RequestParseError && err.status === 431,
    );
  });

  test('trailers over the limit: 431', () => {
    const limit = 200;
    refused(
      `${get('Host: a\r\nTransfer-Encoding: chunked\r\n', 'POST / HTTP/1.1')}0\r\nX-Pad: ${'p'.repeat(limit)}\r\n\r\n`,
      431,
      limit,
    );
  });

  test('a malformed trailer field: 400', () => {
    refused(
      `${get('Host: a\r\nTransfer-Encoding: chunked\r\n', 'POST / HTTP/1.1')}0\r\nX-T : 1\r\n\r\n`,
      400,
    );
  });

  test('a malformed chunk size, or chunk data not followed by CRLF: 400', () => {
    const chunked = (body: string) =>
      `${get('Host: a\r\nTransfer-Encoding: chunked\r\n', 'POST / HTTP/1.1')}${body}`;
    for (const body of [
      'zz\r\nhello\r\n0\r\n\r\n',
      '\r\nhello\r\n0\r\n\r\n',
      '-5\r\nhello\r\n0\r\n\r\n',
      '+5\r\nhello\r\n0\r\n\r\n',
      ' 5\r\nhello\r\n0\r\n\r\n',
      '0x5\r\nhello\r\n0\r\n\r\n',
      '5\nhello\r\n0\r\n\r\n',
      '1000000000000\r\n',
      '5\r\nhelloX\r\n0\r\n\r\n',
      '5\r\nhello\n0\r\n\r\n',
      '5\r\nhello0\r\n\r\n',
    ]) {
      refused(chunked(body), 400);
    }
  });

  test('a chunk line that is too long: 400, however it is split', () => {
    const body = `5;${'x'.repeat(5000)}\r\nhello\r\n0\r\n\r\n`;
    const raw = `${get('Host: a\r\nTransfer-Encoding: chunked\r\n', 'POST / HTTP/1.1')}${body}`;
    refused(raw, 400);
  });

  test('a target with a space, a control or a non-ASCII character: 400', () => {
    refused(get('Host: a\r\n', 'GET /a b HTTP/1.1'), 400);
    refused(get('Host: a\r\n', 'GET /a\tb HTTP/1.1'), 400);
    refused(get('Host: a\r\n', 'GET /caf\xe9 HTTP/1.1'), 400);
    refused(Buffer.concat([Buffer.from('GET /caf'), Buffer.from('é HTTP/1.1\r\nHost: a\r\n\r\n')]), 400);
    refused(get('Host: a\r\n', 'GET /a\x7f HTTP/1.1'), 400);
  });

  test('a target that is not a path: 400', () => {
    refused(get('Host: a:443\r\n', 'CONNECT a:443 HTTP/1.1'), 400);
    refused(get('Host: a\r\n', 'GET * HTTP/1.1'), 400);
    refused(get('Host: a\r\n', 'GET mcp HTTP/1.1'), 400);
    refused(get('Host: a\r\n', 'GET ftp://a/b HTTP/1.1'), 400);
  });

  test('an expectation other than 100-continue: 417', () => {
    refused(get('Host: a\r\nExpect: something-else\r\n', 'POST / HTTP/1.1'), 417);
    refused(get('Host: a\r\nExpect: 100-continue, 200-ok\r\n', 'POST / HTTP/1.1'), 417);
  });
});
