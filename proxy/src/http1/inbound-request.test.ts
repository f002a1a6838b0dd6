import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InboundRequest, PayloadTooLargeError, RequestAbortedError } from './inbound-request.ts';
import type { RequestHead } from './request-parser.ts';

function request(headers: Record<string, string> = {}, maxBodyBytes = 16): InboundRequest {
  const head = { method: 'DELETE', url: '/mcp', httpVersion: '1.1', headers } as unknown as RequestHead;
  return new InboundRequest(head, maxBodyBytes);
}

describe('InboundRequest.discardBody', () => {
  it('resolves at the body’s end, whether it ended before or after the call', async () => {
    const early = request();
    early.pushBody(Buffer.from('abc'));
    early.endBody();
    await early.discardBody();
    const late = request();
    const done = late.discardBody();
    late.pushBody(Buffer.from('abc'));
    late.pushBody(Buffer.from('def'));
    late.endBody();
    await done;
    assert.equal(late.complete, true);
  });

  it('rejects when the client goes away, or the server refuses the body, first', async () => {
    const before = request();
    before.abort();
    await assert.rejects(before.discardBody(), RequestAbortedError);
    const during = request();
    const done = during.discardBody();
    during.pushBody(Buffer.from('ab'));
    during.abort();
    await assert.rejects(done, RequestAbortedError);
  });

  it('holds the body to the server’s limit, declared or reached', async () => {
    await assert.rejects(request({ 'content-length': '17' }).discardBody(), PayloadTooLargeError);
    const reached = request();
    const done = reached.discardBody();
    reached.pushBody(Buffer.alloc(10));
    reached.pushBody(Buffer.alloc(10));
    await assert.rejects(done, PayloadTooLargeError);
  });
});
