import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createChildren } from '../load/children.ts';
import { startSdkServer } from '../load/mesh.ts';
import { TEXT_1K, toolsCallBody } from '../load/payload.ts';

const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

describe('SDK server', () => {
  const children = createChildren();
  let url = '';

  before(async () => {
    url = (await startSdkServer(children)).url;
  });
  after(() => children.stopAll());

  it("answers the benchmark's tools/call with the same 1 KB, as JSON, without a session", async () => {
    for (const id of [1, 2]) {
      const res = await fetch(url, { method: 'POST', headers, body: toolsCallBody(id) });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'application/json');
      assert.equal(res.headers.get('mcp-session-id'), null);
      const body = (await res.json()) as {
        id: number;
        result: { content: { type: string; text: string }[] };
      };
      assert.equal(body.id, id);
      assert.deepEqual(body.result.content, [{ type: 'text', text: TEXT_1K }]);
    }
  });

  it('validates the tool arguments through the SDK', async () => {
    const body = JSON.stringify({
      jsonrpc: '2.0',
      id: 3,
      method: 'tools/call',
      params: { name: 'echo', arguments: { text: 7 } },
    });
    const res = await fetch(url, { method: 'POST', headers, body });
    const answer = (await res.json()) as { result?: { isError?: boolean }; error?: unknown };
    assert.ok(answer.error !== undefined || answer.result?.isError === true, JSON.stringify(answer));
  });

  it('refuses a client that does not accept JSON', async () => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/plain' },
      body: toolsCallBody(4),
    });
    assert.equal(res.status, 406);
  });
});
