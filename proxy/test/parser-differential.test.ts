/**
 * Messages that two JSON parsers read differently never reach the server. The proxy judges a request
 * by `JSON.parse` and forwards the client's bytes to an HTTP upstream, so a server whose parser reads
 * them otherwise would run a call the policy did not judge. The upstream here is a real one with such
 * a parser: a server built on the official Go SDK v1.2.0, which matched member names
 * case-insensitively (CVE-2026-27896). The test first shows, straight to that server, that each
 * message below runs what the policy forbids; then that the proxy refuses each of them. A server on
 * the official Python SDK reads integers beyond 2^53 exactly, where `JSON.parse` rounds them: a
 * condition on such an argument denies instead of judging another value.
 *
 * Needs Go (the fixture is built from the Go module proxy into a cache, see
 * `fixtures/build-go-fixture.sh`) and the Python MCP SDK (`.ci/run` installs it); without them
 * their suite is skipped.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { createHttpUpstream } from '../src/upstream/http-upstream.ts';
import { waitFor } from './fixtures/stdio-harness.ts';
import { freePort } from './helpers/free-port.ts';
import { goFixture } from './helpers/go-fixture.ts';
import { type Harness, startHarness } from './helpers/harness.ts';
import { ACCEPT_BOTH } from './helpers/harness-post.ts';
import { legacyInitialize } from './helpers/legacy-initialize.ts';
import { python, pythonSkip } from './helpers/python-sdk.ts';

const binary = goFixture('go-mcp-server', 'TESSERA_GO_MCP_SERVER');

async function startGoServer(path: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(path, [], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the Go fixture exited with ${code}`)));
    createInterface({ input: child.stdout! }).once('line', resolve);
  });
  return { child, url: `http://127.0.0.1:${Number(line)}/mcp` };
}

/** What a POST answered: status, and the JSON-RPC message (from a JSON body or the SSE `data:` line). */
async function send(
  url: string,
  body: string | Buffer,
  headers: Record<string, string>,
): Promise<{ status: number; session: string | null; message: Record<string, unknown> | undefined }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: ACCEPT_BOTH, ...headers },
    body,
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  const json = text.startsWith('{') ? text : text.match(/^data: (.*)$/m)?.[1];
  return {
    status: res.status,
    session: res.headers.get('mcp-session-id'),
    message: json ? (JSON.parse(json) as Record<string, unknown>) : undefined,
  };
}

/** The newest revision go-sdk v1.2.0 speaks. */
const GO_SDK_REVISION = '2025-06-18';

/** A session on `url` (through the proxy or not), and a sender of raw bodies within it. */
async function session(url: string, auth: Record<string, string>) {
  const init = await send(url, JSON.stringify(legacyInitialize(0, GO_SDK_REVISION)), auth);
  assert.equal(init.status, 200, JSON.stringify(init.message));
  assert.ok(init.session, 'the server opened a session');
  const headers = { ...auth, 'mcp-session-id': init.session, 'mcp-protocol-version': GO_SDK_REVISION };
  const initialized = await send(url, '{"jsonrpc":"2.0","method":"notifications/initialized"}', headers);
  assert.equal(initialized.status, 202);
  return (body: string | Buffer) => send(url, body, headers);
}

/** The JSON-RPC error an answer carries. */
function errorOf(r: { message: Record<string, unknown> | undefined }): { code: number; message: string } {
  const error = r.message?.error as { code: number; message: string } | undefined;
  assert.ok(error, `expected a JSON-RPC error, got ${JSON.stringify(r.message)}`);
  return error;
}

/** The text a tool call answered with. */
const ran = (message: Record<string, unknown> | undefined) =>
  (message?.result as { content?: { text?: string }[] } | undefined)?.content?.[0]?.text;

const call = (id: number, params: string, envelopeTail = '') =>
  `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":${params}${envelopeTail}}`;

/** Each message is allowed as policy reads it, and runs what policy denies on the Go server. */
const smuggled = [
  {
    what: 'a tool name in another case',
    body: call(1, '{"name":"lookup","arguments":{"key":"public/a"},"NAME":"wipe"}'),
    runs: 'ran wipe',
  },
  {
    what: 'an argument under a name with U+212A (Kelvin sign)',
    body: call(2, '{"name":"lookup","arguments":{"key":"public/a","\u212aey":"secret/b"}}'),
    runs: 'ran lookup secret/b',
  },
  {
    what: 'params under a name with U+017F (long s)',
    body: call(
      3,
      '{"name":"lookup","arguments":{"key":"public/a"}}',
      ',"param\u017f":{"name":"wipe","arguments":{"key":""}}',
    ),
    runs: 'ran wipe',
  },
];

describe('parser differentials, against the Go SDK v1.2.0', {
  skip: binary ? false : 'Go is not installed',
}, () => {
  let go: { child: ChildProcess; url: string };
  let h: Harness;

  before(async () => {
    go = await startGoServer(binary!);
    h = await startHarness({
      upstream: createHttpUpstream({ url: new URL(go.url), log: () => {} }),
      policy: {
        rules: [
          { id: 'no-wipe', effect: 'DENY', methods: ['tools/call'], targets: ['wipe'] },
          {
            id: 'public-only',
            effect: 'DENY',
            methods: ['tools/call'],
            targets: ['lookup'],
            condition: '!args.key.startsWith("public/")',
          },
        ],
      },
    });
  });

  after(async () => {
    await h?.close();
    go?.child.kill();
  });

  test('straight to the server, each message runs what the policy forbids', async () => {
    const post = await session(go.url, {});
    for (const { what, body, runs } of smuggled) {
      const r = await post(body);
      assert.equal(ran(r.message), runs, what);
    }
  });

  test('through the proxy, the policy holds for the plain calls', async () => {
    const post = await session(`${h.url}/mcp`, { authorization: `Bearer ${await h.token()}` });
    assert.equal(
      ran((await post(call(10, '{"name":"lookup","arguments":{"key":"public/a"}}'))).message),
      'ran lookup public/a',
    );
    assert.equal((await post(call(11, '{"name":"wipe","arguments":{}}'))).status, 403);
    assert.equal((await post(call(12, '{"name":"lookup","arguments":{"key":"secret/b"}}'))).status, 403);
  });

  test('through the proxy, every message read differently is refused with 400 and -32600, and audited', async () => {
    const post = await session(`${h.url}/mcp`, { authorization: `Bearer ${await h.token()}` });
    for (const { what, body } of smuggled) {
      const before = h.audit.length;
      const r = await post(body);
      assert.equal(r.status, 400, what);
      const error = errorOf(r);
      assert.equal(error.code, -32600, what);
      assert.match(error.message, /differ only in case/, what);
      const event = h.audit.slice(before).find((e) => e.method === 'tools/call' || e.outcome === 'invalid');
      assert.equal(event?.outcome, 'invalid', what);
    }
    // A repeated name, which parsers that keep the first member read as the other tool.
    const twice = await post(call(20, '{"name":"wipe","name":"lookup","arguments":{"key":"public/a"}}'));
    assert.equal(twice.status, 400);
    assert.match(errorOf(twice).message, /^params has the member "name" twice/);
    // A body that is not UTF-8 is a parse error.
    const bytes = Buffer.from(call(21, '{"name":"lookup","arguments":{"key":"public/\xff"}}'), 'latin1');
    const notUtf8 = await post(bytes);
    assert.equal(notUtf8.status, 400);
    assert.equal(errorOf(notUtf8).code, -32700);
    // The session still works.
    assert.equal(
      ran((await post(call(22, '{"name":"lookup","arguments":{"key":"public/b"}}'))).message),
      'ran lookup public/b',
    );
  });
});

describe('integers beyond 2^53, against the Python SDK', { skip: pythonSkip }, () => {
  let py: ChildProcess;
  let url: string;
  let h: Harness;
  const headers = { 'mcp-protocol-version': '2025-11-25' };

  before(async () => {
    const port = await freePort();
    py = spawn(python, [join(import.meta.dirname, 'fixtures', 'py-mcp-server.py'), String(port)], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    url = `http://127.0.0.1:${port}/mcp`;
    await waitFor(
      async () => {
        try {
          await fetch(url, { method: 'GET' });
          return true;
        } catch {
          return false;
        }
      },
      'the Python fixture to listen',
      30_000,
    );
    h = await startHarness({
      upstream: createHttpUpstream({ url: new URL(url), log: () => {} }),
      policy: {
        rules: [
          {
            id: 'not-this-account',
            effect: 'DENY',
            methods: ['tools/call'],
            targets: ['lookup'],
            condition: 'has(args.account) && args.account == 9007199254740993',
          },
        ],
      },
    });
  });

  after(async () => {
    await h?.close();
    py?.kill();
  });

  test('a condition on an integer the proxy would round denies rather than judge another value', async () => {
    // JSON.parse reads 9007199254740993 as 9007199254740992, so `==` would be false and the DENY rule
    // would not apply; Python reads it exactly.
    const body = call(30, '{"name":"lookup","arguments":{"key":"a","account":9007199254740993}}');
    assert.equal(ran((await send(url, body, headers)).message), 'ran lookup a for account 9007199254740993');
    const auth = { ...headers, authorization: `Bearer ${await h.token()}` };
    const r = await send(`${h.url}/mcp`, body, auth);
    assert.equal(r.status, 403);
    assert.match(errorOf(r).message, /args\.account is an integer beyond ±2\^53/);
    const small = call(31, '{"name":"lookup","arguments":{"key":"a","account":42}}');
    assert.equal(ran((await send(`${h.url}/mcp`, small, auth)).message), 'ran lookup a for account 42');
  });
});
