import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import type { ResponseWriter } from '../http1/outbound-response.ts';
import { ResponseRewriter } from './response-rewriter.ts';

/** Collects what the rewriter hands to the client's response. */
class Collected extends EventEmitter {
  headersSent = false;
  statusCode = 0;
  destroyed = false;
  writableEnded = false;
  writableLength = 0;
  body = '';
  writeHead(status: number) {
    this.statusCode = status;
    this.headersSent = true;
    return this;
  }
  flushHeaders() {}
  write(chunk: Uint8Array | string) {
    this.body += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    return true;
  }
  end(chunk?: Uint8Array | string) {
    if (chunk !== undefined) this.write(chunk);
    this.writableEnded = true;
    return this;
  }
  destroy() {
    this.destroyed = true;
  }
}

/** A rewriter with `drop` and nothing else, in front of a collected response. */
function dropping(id: number, drop: (m: Record<string, unknown>) => boolean) {
  const out = new Collected();
  const rewriter = new ResponseRewriter(out as unknown as ResponseWriter, {
    id,
    rewrite: undefined,
    captureBytes: 0,
    failure: { code: -32603, message: 'x' },
    drop,
  });
  return { out, rewriter };
}

const event = (id: string, message: Record<string, unknown>) =>
  `id: ${id}\nevent: message\ndata: ${JSON.stringify(message)}\n\n`;
const updated = (uri: string) => ({
  jsonrpc: '2.0',
  method: 'notifications/resources/updated',
  params: { uri },
});

test('drop: a stream’s dropped message leaves only its id behind; the others and the answer pass', async () => {
  const { out, rewriter } = dropping(
    7,
    (m) => (m.params as { uri?: string } | undefined)?.uri === 'secret://x' || m.id === 7,
  );
  rewriter.writeHead(200, { 'content-type': 'text/event-stream' });
  // Split mid-event: events are judged whole.
  const stream =
    event('1', updated('note://a')) +
    event('2', updated('secret://x')) +
    'retry: 500\n\n' +
    event('3', { jsonrpc: '2.0', id: 7, result: { uri: 'secret://x' } });
  rewriter.write(stream.slice(0, 40));
  rewriter.write(stream.slice(40));
  rewriter.end();
  await rewriter.done;
  assert.equal(
    out.body,
    event('1', updated('note://a')) +
      'id: 2\n\n' +
      'retry: 500\n\n' +
      event('3', { jsonrpc: '2.0', id: 7, result: { uri: 'secret://x' } }),
    'the answer to the request is never dropped',
  );
  assert.ok(out.writableEnded);
});

test('drop alone leaves JSON answers untouched', async () => {
  const { out, rewriter } = dropping(1, () => true);
  const body = JSON.stringify(updated('secret://x'));
  rewriter.writeHead(200, { 'content-type': 'application/json' });
  rewriter.end(body);
  await rewriter.done;
  assert.equal(out.body, body);
});
