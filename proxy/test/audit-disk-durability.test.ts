/**
 * `TESSERA_PROXY_AUDIT_DURABILITY=disk`: no client receives a complete answer before the answer's audit
 * event is on stable storage. Through the real proxy listener and a real spool, with every `fdatasync`
 * the spool makes observed (and slowed down, so that an answer sent too early would show): each answer
 * — forwarded as JSON, forwarded as an event stream, or a refusal the proxy makes itself — arrives
 * only after a flush that covered its event has finished. Answers that wait together share flushes,
 * and a flush that fails cuts the answers instead of sending them.
 */
import assert from 'node:assert/strict';
import { fdatasync, fsync, mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { encodeAuditEvent } from '../src/audit/audit-event-encoder.ts';
import { openAuditSpool, SPOOL_RECORD_HEADROOM } from '../src/audit/audit-spool.ts';
import { createHttpUpstream } from '../src/upstream/http-upstream.ts';
import { type Harness, startHarness } from './helpers/harness.ts';
import { ACCEPT_BOTH, rpc } from './helpers/harness-post.ts';

/** Answers every call at once: with JSON, or with an event stream for the tool "sse". */
function startUpstream(): Promise<Server> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const msg = JSON.parse(body) as { id: number; params: { name: string } };
      const answer = JSON.stringify({ jsonrpc: '2.0', id: msg.id, result: { content: [] } });
      if (msg.params.name === 'sse') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end(`event: message\ndata: ${answer}\n\n`);
      } else res.writeHead(200, { 'content-type': 'application/json' }).end(answer);
    });
  });
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r(server)));
}

/**
 * A proxy in `disk` durability over a real spool whose `fdatasync`s are counted and start `delayMs`
 * late (or fail with EIO when `failing`); `durable()` is how many events the finished flushes cover.
 */
async function durableProxy(options: { delayMs: number; failing?: boolean }) {
  const upstream = await startUpstream();
  let appended = 0;
  let durable = 0;
  let flushes = 0;
  const slowed = (fd: number, cb: (err: NodeJS.ErrnoException | null) => void) => {
    flushes++;
    const covers = appended;
    setTimeout(() => {
      if (options.failing) return cb(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
      fdatasync(fd, (err) => {
        if (!err) durable = Math.max(durable, covers);
        cb(err);
      });
    }, options.delayMs);
  };
  const spool = openAuditSpool({
    dir: mkdtempSync(join(tmpdir(), 'tessera-durable-')),
    flushes: { fdatasync: slowed, fsync },
  });
  /** The position of each exchange's event in the spool, by JSON-RPC id ('' for a refusal before the body). */
  const position = new Map<string, number>();
  const logged: string[] = [];
  const url = new URL(`http://127.0.0.1:${(upstream.address() as AddressInfo).port}/mcp`);
  const h = await startHarness({
    upstream: createHttpUpstream({ url, log: () => {} }),
    onAudit: (r) => {
      spool.append(encodeAuditEvent(r, { proxyId: 'p', server: 'demo' }, SPOOL_RECORD_HEADROOM));
      position.set(r.requestId, ++appended);
    },
    auditSynced: spool.sync,
    log: (level, msg) => void (level === 'error' && logged.push(msg)),
  });
  return {
    h,
    position,
    logged,
    durable: () => durable,
    flushes: () => flushes,
    async close() {
      await h.close();
      upstream.close();
      await spool.settled();
      spool.close();
    },
  };
}

/** A call of `tool`; resolves when the whole answer has arrived, with what the proxy had made durable then. */
async function call(h: Harness, id: number, tool: string, durable: () => number, token?: string) {
  const res = await fetch(`${h.url}/mcp`, {
    method: 'POST',
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      'content-type': 'application/json',
      accept: ACCEPT_BOTH,
    },
    body: rpc('tools/call', { name: tool }, id),
  });
  await res.arrayBuffer();
  return { status: res.status, durableAtArrival: durable() };
}

describe('audit durability: disk', () => {
  let p: Awaited<ReturnType<typeof durableProxy>> | undefined;
  after(() => p?.close());

  test('every answer arrives after a flush that covered its event; waiting answers share flushes', async () => {
    p = await durableProxy({ delayMs: 150 });
    const { h, position, durable } = p;
    const token = await h.token();
    const answers = await Promise.all([
      call(h, 1, 'json', durable, token),
      call(h, 2, 'sse', durable, token),
      ...Array.from({ length: 8 }, (_, i) => call(h, 10 + i, 'json', durable, token)),
      call(h, 3, 'json', durable),
    ]);
    assert.deepEqual(
      answers.map((a) => a.status),
      [200, 200, ...Array(8).fill(200), 401],
    );
    const refusal = [...position.keys()].find((id) => id === '3' || id === '');
    const ids = ['1', '2', ...Array.from({ length: 8 }, (_, i) => String(10 + i)), refusal!];
    ids.forEach((id, i) => {
      const at = position.get(id);
      assert.ok(at !== undefined, `the exchange ${id} was audited`);
      assert.ok(
        answers[i]!.durableAtArrival >= at,
        `answer ${id} (event ${at}) arrived when only ${answers[i]!.durableAtArrival} events were durable`,
      );
    });
    assert.ok(p.flushes() < position.size, `${p.flushes()} flushes for ${position.size} events`);
    assert.deepEqual(p.logged, []);
  });

  test('a failed flush cuts the answer and every later one', async () => {
    await p?.close();
    p = await durableProxy({ delayMs: 0, failing: true });
    const { h, durable, logged } = p;
    const token = await h.token();
    await assert.rejects(call(h, 1, 'json', durable, token), /fetch failed|terminated|other side closed/);
    await assert.rejects(call(h, 2, 'json', durable, token), /fetch failed|terminated|other side closed/);
    assert.equal(p.position.size, 2, 'both exchanges were recorded in the spool');
    assert.deepEqual(logged, [
      'the audit spool could not be flushed to disk; the answer is cut',
      'the audit spool could not be flushed to disk; the answer is cut',
    ]);
  });
});
