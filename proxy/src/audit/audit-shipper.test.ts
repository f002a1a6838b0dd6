import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { createServer, type ServerHttp2Session } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { create, equals } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError } from '@connectrpc/connect';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import { AuditEventSchema, AuditService, type IngestRequest } from '@tessera/api/mesh/v1/audit';
import type { AuditIR } from '../ir/proxy-config.ts';
import { createMeshTransport } from '../mesh-api/mesh-transport.ts';
import type { AuditRecord } from './audit-event.ts';
import { AUDIT_BATCH_MAX_BYTES, type AuditShipper, createAuditShipper } from './audit-shipper.ts';
import { type AuditSpool, openAuditSpool } from './audit-spool.ts';

/** Events lost either way: the spool was full, or the control plane rejected their batch. */
function dropped(shipper: AuditShipper): number {
  const { droppedSpoolFull, droppedRejected } = shipper.stats();
  return droppedSpoolFull + droppedRejected;
}

function record(method = 'tools/call'): AuditRecord {
  return {
    eventId: randomUUID(),
    time: new Date(),
    user: 'alice@example.com',
    method,
    target: 'echo',
    outcome: 'ok',
    httpStatus: 200,
    errorCode: 0,
    latencyUs: 10,
    requestBytes: 1,
    responseBytes: 2,
    sessionId: '',
    reason: '',
    requestId: '1',
    traceId: '',
  };
}

const stops: Array<() => void> = [];
after(() => {
  for (const stop of stops) stop();
});

/**
 * An AuditService on a real HTTP/2 Connect listener (the control plane's stack) that stores by event
 * id, as the control plane does, and can be told to fail.
 */
async function auditServer(failures: { next: Array<Code | undefined>; gate?: Promise<void> }) {
  const stored = new Map<string, string>();
  const calls: IngestRequest[] = [];
  const handler = connectNodeAdapter({
    routes: (router) =>
      router.service(AuditService, {
        async ingest(req) {
          calls.push(req);
          if (failures.gate) await failures.gate;
          const fail = failures.next.shift();
          if (fail !== undefined) throw new ConnectError('injected failure', fail);
          let n = 0;
          for (const e of req.events) if (!stored.has(e.eventId)) stored.set(e.eventId, e.method) && n++;
          return { batchId: req.batchId, stored: n };
        },
      }),
  });
  const server = createServer(handler);
  const sessions = new Set<ServerHttp2Session>();
  server.on('session', (s) => sessions.add(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  const transport = createMeshTransport({
    controlPlaneUrl: new URL(`http://127.0.0.1:${port}`),
    meshToken: 'not checked here',
  });
  stops.push(() => {
    transport.close();
    for (const s of sessions) s.destroy();
    server.close();
  });
  return { transport, stored, calls };
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(cond(), what);
}

const spoolDir = () => mkdtempSync(join(tmpdir(), 'tessera-spool-test-'));
const spoolAt = (dir = spoolDir(), maxBytes?: number): AuditSpool =>
  openAuditSpool({ dir, maxBytes, segmentBytes: 1024 });

const logs: string[] = [];
const log = (_level: string, msg: string) => void logs.push(msg);

function ship(
  srv: Awaited<ReturnType<typeof auditServer>>,
  settings: AuditIR,
  spool = spoolAt(),
  origin = { proxyId: 'p', server: 's' },
): AuditShipper {
  return createAuditShipper({ transport: srv.transport, spool, ...origin, settings: () => settings, log });
}

test('regression: a flush timer that fires on an empty buffer does not stop shipping', async () => {
  let open = () => {};
  const srv = await auditServer({ next: [], gate: new Promise<void>((r) => (open = r)) });
  const shipper = ship(srv, { batchMaxEvents: 100, flushIntervalMs: 40 });
  // 1. r1 ships when its timer fires. 2. r2 arrives while r1 is in flight: it arms a timer, but the
  // running drain takes r2 along. 3. That timer then fires on an empty buffer — which used to leave a
  // settled promise in place of "sending", so nothing was ever shipped again. 4. r3 must still ship.
  shipper.record(record('r1'));
  await until(() => srv.calls.length === 1, 'r1 in flight');
  shipper.record(record('r2'));
  open();
  await until(() => srv.stored.size === 2, 'r1 and r2 stored');
  await new Promise((r) => setTimeout(r, 80));
  shipper.record(record('r3'));
  await until(() => srv.stored.size === 3, `r3 stored (stored: ${[...srv.stored.values()]})`);
  await shipper.close();
});

test(`a batch carries at most ${AUDIT_BATCH_MAX_BYTES} bytes of events, however many batchMaxEvents allows`, async () => {
  const srv = await auditServer({ next: [] });
  const spool = openAuditSpool({ dir: spoolDir(), segmentBytes: 8 * 1024 * 1024 });
  const shipper = ship(srv, { batchMaxEvents: 10_000, flushIntervalMs: 10 }, spool);
  // Captured bodies make events large: 100 of about 130 KB, some 13 MB in all.
  for (let i = 0; i < 100; i++) {
    shipper.record({ ...record(), requestBody: 'q'.repeat(65_000), responseBody: 'r'.repeat(65_000) });
  }
  await until(() => srv.stored.size === 100, `all stored (${srv.stored.size})`);
  const bytes = srv.calls.map((c) =>
    c.events.reduce((n, e) => n + e.requestBody.length + e.responseBody.length, 0),
  );
  assert.ok(srv.calls.length >= 4, `several batches: ${srv.calls.length}`);
  for (const b of bytes) assert.ok(b <= AUDIT_BATCH_MAX_BYTES, `a batch of ${b} bytes of bodies`);
  await shipper.close();
});

test('a failed batch is retried with the same batch id and stored once', async () => {
  const srv = await auditServer({ next: [Code.Unavailable, Code.DeadlineExceeded] });
  const shipper = ship(srv, { batchMaxEvents: 100, flushIntervalMs: 10 });
  shipper.record(record());
  shipper.record(record());
  await until(() => srv.stored.size === 2 && shipper.stats().pending === 0, 'stored after retries');
  assert.equal(srv.calls.length, 3);
  assert.equal(new Set(srv.calls.map((c) => c.batchId)).size, 1, 'one batch id across retries');
  assert.deepEqual(shipper.stats(), {
    pending: 0,
    shipped: 2,
    failedCalls: 2,
    droppedSpoolFull: 0,
    droppedRejected: 0,
  });
  await shipper.close();
});

test('a batch the control plane rejects as invalid is dropped, and later events still flow', async () => {
  const srv = await auditServer({ next: [Code.InvalidArgument] });
  const shipper = ship(srv, { batchMaxEvents: 1, flushIntervalMs: 10 });
  shipper.record(record('poison'));
  await until(() => dropped(shipper) === 1, 'poison batch dropped');
  shipper.record(record('after'));
  await until(() => srv.stored.size === 1, 'later event stored');
  assert.deepEqual([...srv.stored.values()], ['after']);
  assert.deepEqual(shipper.stats(), {
    pending: 0,
    shipped: 1,
    failedCalls: 0,
    droppedSpoolFull: 0,
    droppedRejected: 1,
  });
  assert.ok(logs.includes('the control plane rejected an audit batch; dropped it'));
  await shipper.close();
});

test('the spool is bounded: the oldest events are dropped and counted', async () => {
  const srv = await auditServer({ next: Array(1000).fill(Code.Unavailable) });
  const shipper = ship(
    srv,
    { batchMaxEvents: 10_000, flushIntervalMs: 60_000 },
    spoolAt(spoolDir(), 64 * 1024),
  );
  for (let i = 0; i < 2000; i++) shipper.record(record());
  assert.ok(dropped(shipper) > 0, 'some events were dropped');
  assert.equal(
    shipper.stats().pending + dropped(shipper),
    2000,
    'every event is either pending or counted as dropped',
  );
  const stats = shipper.stats();
  assert.deepEqual([stats.droppedSpoolFull, stats.droppedRejected], [dropped(shipper), 0]);
  await shipper.close(50);
});

test('events left in the spool by an earlier run are shipped at start, once', async () => {
  const dir = spoolDir();
  const down = await auditServer({ next: Array(1000).fill(Code.Unavailable) });
  const first = ship(down, { batchMaxEvents: 5, flushIntervalMs: 10 }, spoolAt(dir));
  for (let i = 0; i < 12; i++) first.record(record(`m${i}`));
  await first.close(50);
  assert.equal(first.stats().pending, 12);

  const up = await auditServer({ next: [] });
  const second = ship(up, { batchMaxEvents: 5, flushIntervalMs: 10 }, spoolAt(dir));
  await until(
    () => up.stored.size === 12 && second.stats().pending === 0,
    'all 12 shipped after the restart',
  );
  assert.deepEqual(
    [...up.stored.values()],
    Array.from({ length: 12 }, (_, i) => `m${i}`),
  );
  await second.close();

  // A third start finds nothing left to send.
  const again = await auditServer({ next: [] });
  const third = ship(again, { batchMaxEvents: 5, flushIntervalMs: 10 }, spoolAt(dir));
  assert.equal(third.stats().pending, 0);
  await third.close();
  assert.equal(again.calls.length, 0);
});

test('close ships what is spooled', async () => {
  const srv = await auditServer({ next: [] });
  const shipper = ship(srv, { batchMaxEvents: 100, flushIntervalMs: 60_000 });
  shipper.record(record());
  await shipper.close();
  assert.equal(srv.stored.size, 1);
});

test('the control plane receives every field of the record, with the proxy and server', async () => {
  const srv = await auditServer({ next: [] });
  const shipper = ship(srv, { batchMaxEvents: 1, flushIntervalMs: 60_000 }, spoolAt(), {
    proxyId: 'proxy-1',
    server: 'github',
  });
  const r: AuditRecord = {
    ...record(),
    time: new Date('1969-07-20T20:17:40.123Z'),
    errorCode: -32603,
    latencyUs: 2 ** 53 - 1,
    decision: 'deny',
    ruleId: 'default-deny',
    filters: [{ name: 'pii', phase: 'response', decision: 'mutate', reason: 'ok', latencyUs: 7 }],
    groups: ['eng', ''],
    requestBody: '{"x":"é😀"}',
    bodiesTruncated: true,
    era: '2025-11-25',
  };
  shipper.record(r);
  await until(() => srv.calls.length === 1, 'the batch arrived');
  const expected = create(AuditEventSchema, {
    ...r,
    time: timestampFromDate(r.time),
    proxyId: 'proxy-1',
    server: 'github',
    latencyUs: BigInt(r.latencyUs),
    requestBytes: BigInt(r.requestBytes),
    responseBytes: BigInt(r.responseBytes),
    filters: r.filters!.map((f) => ({ ...f, latencyUs: BigInt(f.latencyUs) })),
  });
  assert.ok(equals(AuditEventSchema, srv.calls[0]!.events[0]!, expected));
  await shipper.close();
});

test('a record with a number its field cannot hold is refused and nothing is spooled', async () => {
  const srv = await auditServer({ next: [] });
  const shipper = ship(srv, { batchMaxEvents: 1, flushIntervalMs: 10 });
  assert.throws(() => shipper.record({ ...record(), latencyUs: -1 }), {
    name: 'TypeError',
    message: /latencyUs must be an integer/,
  });
  assert.equal(shipper.stats().pending, 0);
  await shipper.close();
  assert.equal(srv.calls.length, 0);
});
