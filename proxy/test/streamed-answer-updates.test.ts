/**
 * A server may send notifications while it works on a POST, in the POST's own event stream (2025-11-25
 * §Sending Messages to the Server). A `notifications/resources/updated` there names a resource, and the
 * user must not learn the name of one the policy hides from them: through the real proxy in front of the
 * MCP SDK's Streamable HTTP server, such an update is left out, the others and the answer arrive.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';
import { createHttpUpstream } from '../src/upstream/http-upstream.ts';
import { sseEvents } from './fixtures/stdio-harness.ts';
import { type Harness, startHarness } from './helpers/harness.ts';
import { ACCEPT_BOTH, rpc } from './helpers/harness-post.ts';

/**
 * A stateless SDK server (a server and a transport per request) whose `touch` tool sends an update for
 * each URI it names, related to the call, so the SDK streams them in the call's answer.
 */
function startServer(): Promise<Server> {
  const server = createServer(async (req, res) => {
    const mcp = new McpServer({ name: 'streamed-updates', version: '1.0.0' });
    mcp.server.registerCapabilities({ resources: { subscribe: true } });
    mcp.registerTool('touch', { inputSchema: { uris: z.array(z.string()) } }, async ({ uris }, extra) => {
      for (const uri of uris)
        await extra.sendNotification({ method: 'notifications/resources/updated', params: { uri } });
      return { content: [{ type: 'text', text: `touched ${uris.length}` }] };
    });
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    res.on('close', () => void transport.close());
    await mcp.connect(transport);
    await transport.handleRequest(req, res);
  });
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r(server)));
}

describe('updates inside a streamed answer', () => {
  let upstream: Server;
  let h: Harness;
  before(async () => {
    upstream = await startServer();
    const url = new URL(`http://127.0.0.1:${(upstream.address() as AddressInfo).port}/mcp`);
    h = await startHarness({
      upstream: createHttpUpstream({ url, log: () => {} }),
      policy: {
        rules: [
          { id: 'hide-secret', effect: 'DENY', methods: ['resources/read'], targets: ['note://secret*'] },
        ],
      },
    });
  });
  after(async () => {
    await h.close();
    upstream.close();
  });

  /** Calls `touch` on `uris`; resolves with the JSON-RPC messages of its streamed answer. */
  async function touch(uris: string[], id: number): Promise<Record<string, unknown>[]> {
    const res = await fetch(`${h.url}/mcp`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${await h.token()}`,
        'content-type': 'application/json',
        accept: ACCEPT_BOTH,
        'mcp-protocol-version': '2025-11-25',
      },
      body: rpc('tools/call', { name: 'touch', arguments: { uris } }, id),
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    const messages: Record<string, unknown>[] = [];
    for await (const event of sseEvents(res))
      if (event.data) messages.push(JSON.parse(event.data) as Record<string, unknown>);
    return messages;
  }
  const updatedUris = (messages: Record<string, unknown>[]) =>
    messages
      .filter((m) => m.method === 'notifications/resources/updated')
      .map((m) => (m.params as { uri: string }).uri);

  test('an update of a resource the user may not read is left out; the rest and the answer arrive', async () => {
    const messages = await touch(['note://a', 'note://secret', 'note://secret/child', 'note://b'], 1);
    assert.deepEqual(updatedUris(messages), ['note://a', 'note://b']);
    const answer = messages.find((m) => m.id === 1) as { result: { content: { text: string }[] } };
    assert.equal(answer.result.content[0]!.text, 'touched 4');
    assert.equal(h.audit.find((r) => r.method === 'tools/call')?.outcome, 'ok');
  });

  test('updates of resources the user may read all arrive, in order', async () => {
    assert.deepEqual(updatedUris(await touch(['note://c', 'note://d', 'note://e'], 2)), [
      'note://c',
      'note://d',
      'note://e',
    ]);
  });
});
