import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { JsonRpcId } from '../server/jsonrpc.ts';
import { observeResponse } from './response-observer.ts';

const SSE = 'text/event-stream';
const JSON_TYPE = 'application/json';

/** Feeds `parts` to a fresh observer and returns the error code it saw. */
function observe(contentType: string, id: JsonRpcId | undefined, parts: Array<string | Buffer>): number {
  const o = observeResponse(contentType, id);
  for (const p of parts) o.write(typeof p === 'string' ? Buffer.from(p) : p);
  return o.errorCode();
}

/** Every way of cutting `text` into two chunks, and into single bytes. */
function splits(text: string): Buffer[][] {
  const bytes = Buffer.from(text);
  const out: Buffer[][] = [];
  for (let i = 1; i < bytes.length; i++) out.push([bytes.subarray(0, i), bytes.subarray(i)]);
  out.push([...bytes].map((b) => Buffer.from([b])));
  return out;
}

const errorEvent = (id: JsonRpcId, code: number) =>
  `event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', id, error: { code, message: 'nope' } })}\n\n`;
const resultEvent = (id: JsonRpcId) => `data: ${JSON.stringify({ jsonrpc: '2.0', id, result: {} })}\n\n`;

describe('observeResponse: application/json', () => {
  test('a successful response is 0', () => {
    assert.equal(observe(JSON_TYPE, 1, ['{"jsonrpc":"2.0","id":1,"result":{"content":[]}}']), 0);
  });

  test('an error code that is not a 32-bit integer counts as Internal error', () => {
    for (const code of ['1.5', '4294967296', '1e400', '"x"']) {
      const body = `{"jsonrpc":"2.0","id":1,"error":{"code":${code},"message":"bad"}}`;
      assert.equal(observe(JSON_TYPE, 1, [body]), -32603, code);
    }
  });

  test('an error response yields its code', () => {
    assert.equal(
      observe(JSON_TYPE, 1, ['{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"bad"}}']),
      -32602,
    );
  });

  test('an error without a numeric code is an internal error', () => {
    assert.equal(observe(JSON_TYPE, 1, ['{"jsonrpc":"2.0","id":1,"error":{"message":"bad"}}']), -32603);
  });

  test('a body split across chunks, with a charset parameter', () => {
    const body = '{"jsonrpc":"2.0","id":"a","error":{"code":-32000,"message":"ü"}}';
    for (const parts of splits(body))
      assert.equal(observe('application/json; charset=utf-8', 'a', parts), -32000);
  });

  test('a response to another id is ignored', () => {
    assert.equal(
      observe(JSON_TYPE, 1, ['{"jsonrpc":"2.0","id":2,"error":{"code":-32602,"message":"x"}}']),
      0,
    );
    assert.equal(
      observe(JSON_TYPE, 1, ['{"jsonrpc":"2.0","id":"1","error":{"code":-32602,"message":"x"}}']),
      0,
    );
  });

  test('without an id, any error counts', () => {
    assert.equal(
      observe(JSON_TYPE, undefined, ['{"jsonrpc":"2.0","id":9,"error":{"code":-32601,"message":"x"}}']),
      -32601,
    );
  });

  test('a body that is not JSON, or not an object, is 0', () => {
    assert.equal(observe(JSON_TYPE, 1, ['<html>']), 0);
    assert.equal(observe(JSON_TYPE, 1, ['null']), 0);
    assert.equal(observe(JSON_TYPE, 1, []), 0);
  });

  test('a body over the 1 MiB inspection cap is not inspected', () => {
    const big = `{"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"${'x'.repeat(1024 * 1024)}"}}`;
    assert.equal(observe(JSON_TYPE, 1, [big]), 0);
  });
});

describe('observeResponse: text/event-stream', () => {
  test('an error answer yields its code', () => {
    assert.equal(observe(SSE, 1, [errorEvent(1, -32602)]), -32602);
  });

  test('a successful answer is 0', () => {
    assert.equal(observe(SSE, 1, [resultEvent(1)]), 0);
  });

  test('the answer split at every possible boundary (mid-line, mid-"data:", between CR and LF)', () => {
    const stream = `: ping\r\n\r\nid: 1\r\n${errorEvent('req-1', -32001).replaceAll('\n', '\r\n')}`;
    for (const parts of splits(stream)) assert.equal(observe(SSE, 'req-1', parts), -32001);
  });

  test('LF line endings split at every boundary', () => {
    const stream = `${errorEvent(5, -32002)}`;
    for (const parts of splits(stream)) assert.equal(observe(SSE, 5, parts), -32002);
  });

  test('CRLF line endings', () => {
    assert.equal(observe(SSE, 1, [errorEvent(1, -32003).replaceAll('\n', '\r\n')]), -32003);
  });

  test('data split over several data lines is joined with newlines', () => {
    const stream = 'data: {"jsonrpc":"2.0",\ndata: "id":1,\ndata:"error":{"code":-32004,"message":"m"}}\n\n';
    assert.equal(observe(SSE, 1, [stream]), -32004);
  });

  test('"data:" without a space keeps the whole value', () => {
    assert.equal(
      observe(SSE, 1, ['data:{"jsonrpc":"2.0","id":1,"error":{"code":-32005,"message":"m"}}\n\n']),
      -32005,
    );
  });

  test('a notification before the answer is skipped', () => {
    const note = 'data: {"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":1}}\n\n';
    assert.equal(observe(SSE, 1, [note, errorEvent(1, -32006)]), -32006);
    assert.equal(observe(SSE, 1, [note, resultEvent(1)]), 0);
  });

  test('a server request before the answer is skipped', () => {
    const request = 'data: {"jsonrpc":"2.0","id":"s1","method":"sampling/createMessage","params":{}}\n\n';
    assert.equal(observe(SSE, 1, [request + errorEvent(1, -32007)]), -32007);
  });

  test('comments and other fields are ignored', () => {
    const stream = `: ping\n\n:keepalive\nevent: message\nid: 42\nretry: 1000\n${errorEvent(1, -32008)}`;
    assert.equal(observe(SSE, 1, [stream]), -32008);
  });

  test('an answer with a mismatched id is ignored, and the matching one counts', () => {
    assert.equal(observe(SSE, 1, [errorEvent(2, -32009), resultEvent(1)]), 0);
    assert.equal(observe(SSE, 1, [resultEvent(2), errorEvent(1, -32010)]), -32010);
    assert.equal(observe(SSE, 1, [errorEvent('1', -32011)]), 0);
  });

  test('the first matching answer is kept; later events change nothing', () => {
    assert.equal(observe(SSE, 1, [errorEvent(1, -32012), errorEvent(1, -32013)]), -32012);
    assert.equal(observe(SSE, 1, [resultEvent(1), errorEvent(1, -32013)]), 0);
  });

  test('an event not terminated by a blank line is not dispatched', () => {
    assert.equal(
      observe(SSE, 1, ['data: {"jsonrpc":"2.0","id":1,"error":{"code":-32014,"message":"m"}}\n']),
      0,
    );
  });

  test('an event that is not JSON is skipped', () => {
    assert.equal(observe(SSE, 1, ['data: hello\n\n', errorEvent(1, -32015)]), -32015);
  });

  test('a multi-byte character split between chunks does not hide the code', () => {
    const stream = errorEvent(1, -32016).replace('nope', 'ünïcödé ✓');
    for (const parts of splits(stream)) assert.equal(observe(SSE, 1, parts), -32016);
  });

  test('an oversized event is dropped and a later answer still counts', () => {
    const huge = `data: ${'x'.repeat(1024 * 1024 + 10)}`;
    assert.equal(observe(SSE, 1, [huge, '\n\n', errorEvent(1, -32017)]), -32017);
  });

  test('nothing written is 0', () => {
    assert.equal(observe(SSE, 1, []), 0);
  });
});

describe('observeResponse: other content types', () => {
  test('an unknown content type is 0 whatever the body', () => {
    assert.equal(
      observe('text/plain', 1, ['{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"x"}}']),
      0,
    );
    assert.equal(observe('', 1, ['{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"x"}}']), 0);
    assert.equal(observe('application/octet-stream', 1, [errorEvent(1, -32602)]), 0);
  });
});
