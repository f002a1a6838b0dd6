import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { create, equals, fromBinary, toBinary } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { type AuditEvent, AuditEventSchema, FilterDecisionSchema } from '@tessera/api/mesh/v1/audit';
import { prng } from '../../test/helpers/prng.ts';
import type { AuditOutcome, AuditRecord, FilterDecisionRecord } from './audit-event.ts';
import { type AuditEventOrigin, encodeAuditEvent } from './audit-event-encoder.ts';

const origin: AuditEventOrigin = { proxyId: 'proxy-7f3a', server: 'github' };

/** The oracle: how the shipper built the event before the encoder existed (protobuf-es reflection). */
function message(r: AuditRecord, o: AuditEventOrigin): AuditEvent {
  return create(AuditEventSchema, {
    eventId: r.eventId,
    time: timestampFromDate(r.time),
    proxyId: o.proxyId,
    server: o.server,
    user: r.user,
    method: r.method,
    target: r.target,
    outcome: r.outcome,
    httpStatus: r.httpStatus,
    errorCode: r.errorCode,
    latencyUs: BigInt(r.latencyUs),
    requestBytes: BigInt(r.requestBytes),
    responseBytes: BigInt(r.responseBytes),
    sessionId: r.sessionId,
    reason: r.reason,
    requestId: r.requestId,
    traceId: r.traceId,
    decision: r.decision ?? '',
    ruleId: r.ruleId ?? '',
    filters: (r.filters ?? []).map((f) => ({ ...f, latencyUs: BigInt(f.latencyUs) })),
    argumentsDigest: r.argumentsDigest ?? '',
    clientId: r.clientId ?? '',
    groups: r.groups ?? [],
    requestBody: r.requestBody ?? '',
    responseBody: r.responseBody ?? '',
    bodiesTruncated: r.bodiesTruncated ?? false,
    era: r.era ?? '',
  });
}

/** Encodes both ways, requires the same bytes, and returns them. */
function same(r: AuditRecord, o = origin): Uint8Array {
  const ours = encodeAuditEvent(r, o);
  const reference = toBinary(AuditEventSchema, message(r, o));
  assert.equal(Buffer.from(ours).toString('hex'), Buffer.from(reference).toString('hex'));
  return ours;
}

/** Encodes, requires the same bytes as protobuf-es, and that decoding gives the event back. */
function roundTrips(r: AuditRecord, o = origin): void {
  const decoded = fromBinary(AuditEventSchema, same(r, o));
  assert.ok(equals(AuditEventSchema, decoded, message(r, o)), 'fromBinary returns the event');
}

const defaults: AuditRecord = {
  eventId: '',
  time: new Date(0),
  user: '',
  method: '',
  target: '',
  outcome: '' as AuditOutcome,
  httpStatus: 0,
  errorCode: 0,
  latencyUs: 0,
  requestBytes: 0,
  responseBytes: 0,
  sessionId: '',
  reason: '',
  requestId: '',
  traceId: '',
};

const full: AuditRecord = {
  eventId: '0b6f9a52-6f0e-4c43-9a3e-2f1c8b7d5e10',
  time: new Date('2026-03-14T15:09:26.535Z'),
  user: 'alice@example.com',
  method: 'tools/call',
  target: 'search_repositories',
  outcome: 'denied',
  httpStatus: 403,
  errorCode: -32001,
  latencyUs: 1_234_567,
  requestBytes: 512,
  responseBytes: 70_000,
  sessionId: 'sess-1',
  reason: 'no grant for tool search_repositories',
  requestId: '"req-42"',
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
  decision: 'deny',
  ruleId: 'grant:group:eng',
  filters: [
    { name: 'pii', phase: 'request', decision: 'mutate', reason: 'redacted 2 emails', latencyUs: 850 },
    { name: 'dlp', phase: 'response', decision: 'error', reason: 'timeout', latencyUs: 2_000_000 },
  ],
  argumentsDigest: 'a'.repeat(64),
  clientId: 'cli-9',
  groups: ['eng', 'admins'],
  requestBody: '{"jsonrpc":"2.0","id":"req-42","method":"tools/call","params":{"token":"[REDACTED]"}}',
  responseBody: `data: ${'x'.repeat(300)}\n\n`,
  bodiesTruncated: true,
  era: '2025-11-25',
};

test('the encoder knows every field of audit.proto', () => {
  // The encoder lists the fields by hand: a field added to the proto must be added there (and to the
  // oracle above), or events would silently lack it.
  const numbers = (d: typeof AuditEventSchema | typeof FilterDecisionSchema) => d.fields.map((f) => f.number);
  const upTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1);
  assert.deepEqual(numbers(AuditEventSchema), upTo(27), 'AuditEvent changed: update audit-event-encoder.ts');
  assert.deepEqual(
    numbers(FilterDecisionSchema),
    upTo(5),
    'FilterDecision changed: update audit-event-encoder.ts',
  );
});

describe('encodeAuditEvent writes what protobuf-es writes', () => {
  test('an all-defaults event is only its (empty) timestamp', () => {
    // Message fields have explicit presence, so the epoch is still written: field 2, length 0.
    assert.deepEqual([...same(defaults, { proxyId: '', server: '' })], [0x12, 0x00]);
    roundTrips(defaults, { proxyId: '', server: '' });
  });

  test('a full event, every field set', () => {
    roundTrips(full);
  });

  test('optional fields left out equal their defaults', () => {
    const { decision, ruleId, filters, argumentsDigest, clientId, groups, requestBody, ...rest } = full;
    const { responseBody, bodiesTruncated, era, ...required } = rest;
    roundTrips(required);
    roundTrips({ ...required, bodiesTruncated: false, groups: [], filters: [] });
  });

  test('multi-byte and astral characters, short and long (native byte count) strings', () => {
    roundTrips({
      ...full,
      user: 'zoë@exämple.com',
      target: '検索_ツール',
      reason: 'emoji 😀 and 𝄞 and €',
      requestBody: `${'é€😀'.repeat(40)}${'a'.repeat(100)}`,
      groups: ['ü', '群組', '😀'],
      filters: [
        { name: 'フィルタ', phase: 'request', decision: 'deny', reason: 'ø'.repeat(70), latencyUs: 1 },
      ],
    });
  });

  test('a lone surrogate becomes U+FFFD, as TextEncoder makes it', () => {
    // Our strings come from JSON.parse, which accepts "\ud800", so lone surrogates can reach us.
    const bytes = same({
      ...full,
      user: 'a\ud800b',
      target: '\udc00',
      reason: `x\ud83d`,
      requestBody: `${'y'.repeat(70)}\udfff`,
    });
    const decoded = fromBinary(AuditEventSchema, bytes);
    assert.equal(decoded.user, 'a\ufffdb');
    assert.equal(decoded.target, '\ufffd');
    assert.equal(decoded.reason, 'x\ufffd');
    assert.equal(decoded.requestBody, `${'y'.repeat(70)}\ufffd`);
  });

  test('string lengths at the varint boundaries of their length prefix', () => {
    for (const n of [127, 128, 16_383, 16_384])
      roundTrips({ ...full, requestBody: 'b'.repeat(n), reason: 'é'.repeat(n) });
  });

  test('repeated fields: empty, with empty elements, and in order', () => {
    roundTrips({ ...full, groups: [], filters: [] });
    // An empty element is still an element: it is written as a zero-length field.
    roundTrips({
      ...full,
      groups: [''],
      filters: [{ name: '', phase: '' as 'request', decision: '' as 'allow', reason: '', latencyUs: 0 }],
    });
    roundTrips({ ...full, groups: ['b', '', 'a', 'b'] });
  });

  test('large and edge numbers', () => {
    roundTrips({ ...full, latencyUs: 2 ** 53 - 1, requestBytes: 2 ** 32, responseBytes: 2 ** 32 - 1 });
    roundTrips({ ...full, latencyUs: 2 ** 31, requestBytes: 127, responseBytes: 128 });
    roundTrips({ ...full, httpStatus: 0, errorCode: -32603 });
    roundTrips({ ...full, httpStatus: 2 ** 32 - 1, errorCode: -(2 ** 31) });
    roundTrips({ ...full, errorCode: 2 ** 31 - 1 });
    roundTrips({ ...full, errorCode: -1 });
    roundTrips({ ...full, errorCode: 1 });
    roundTrips({ ...full, filters: [{ ...full.filters![0]!, latencyUs: 2 ** 53 - 1 }] });
  });

  test('dates: milliseconds, the epoch, before 1970, the ends of the Date range', () => {
    for (const ms of [
      0,
      1,
      999,
      1000,
      1001,
      -1,
      -999,
      -1000,
      -1001,
      -86_400_000 * 365.25 * 100,
      8.64e15,
      -8.64e15,
    ]) {
      roundTrips({ ...full, time: new Date(ms) });
    }
  });

  test('the headroom is left in front of the same bytes', () => {
    const plain = encodeAuditEvent(full, origin);
    const roomy = encodeAuditEvent(full, origin, 4);
    assert.equal(roomy.length, plain.length + 4);
    assert.deepEqual(roomy.subarray(4), plain);
  });
});

describe('encodeAuditEvent refuses numbers that do not fit their field', () => {
  const cases: Array<[string, Partial<AuditRecord>]> = [
    ['latencyUs', { latencyUs: -1 }],
    ['latencyUs', { latencyUs: 1.5 }],
    ['latencyUs', { latencyUs: Number.NaN }],
    ['latencyUs', { latencyUs: Number.POSITIVE_INFINITY }],
    ['latencyUs', { latencyUs: 2 ** 53 }],
    ['requestBytes', { requestBytes: -0.5 }],
    ['responseBytes', { responseBytes: Number.NEGATIVE_INFINITY }],
    ['httpStatus', { httpStatus: -1 }],
    ['httpStatus', { httpStatus: 2 ** 32 }],
    ['httpStatus', { httpStatus: Number.NaN }],
    ['errorCode', { errorCode: 2 ** 31 }],
    ['errorCode', { errorCode: -(2 ** 31) - 1 }],
    ['errorCode', { errorCode: 0.5 }],
    ['filters[].latencyUs', { filters: [{ ...full.filters![0]!, latencyUs: -1 }] }],
    ['time', { time: new Date(Number.NaN) }],
  ];
  for (const [field, patch] of cases) {
    test(`${field}: ${JSON.stringify(patch, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v))}`, () => {
      assert.throws(() => encodeAuditEvent({ ...full, ...patch }, origin), {
        name: 'TypeError',
        message: new RegExp(`^audit event ${field.replace(/[[\]]/g, '\\$&')} must be`),
      });
      // A refused event leaves nothing behind: the next one encodes as if it never happened.
      same(full);
    });
  }

  test('a negative or fractional headroom', () => {
    assert.throws(() => encodeAuditEvent(full, origin, -1), { name: 'TypeError', message: /headroom/ });
    assert.throws(() => encodeAuditEvent(full, origin, 1.5), { name: 'TypeError', message: /headroom/ });
  });
});

function generator(rnd: () => number, loneSurrogates: boolean) {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  const pieces = [
    'a',
    'Z',
    '0',
    '-',
    '/',
    ' ',
    '"',
    '\n',
    '\u007f',
    '\u0080',
    'é',
    '\u07ff',
    '\u0800',
    '€',
    '中',
    '\uffff',
    '😀',
    '𝄞',
  ];
  const lone = ['\ud800', '\udbff', '\udc00', '\udfff'];
  const str = (): string => {
    const shape = rnd();
    if (shape < 0.25) return '';
    const n = shape < 0.8 ? int(1, 20) : shape < 0.97 ? int(60, 200) : int(16_000, 17_000);
    let s = '';
    const ascii = rnd() < 0.5;
    for (let i = 0; i < n; i++) s += ascii ? 'q' : loneSurrogates && rnd() < 0.05 ? pick(lone) : pick(pieces);
    return s;
  };
  const u64 = (): number =>
    pick([
      () => 0,
      () => int(1, 127),
      () => int(128, 1_000_000),
      () => int(2 ** 31 - 2, 2 ** 32 + 2),
      () => Math.floor(rnd() * 2 ** 53),
      () => 2 ** 53 - 1,
    ])();
  const maybe = <T>(f: () => T): T | undefined => (rnd() < 0.2 ? undefined : f());
  const filter = (): FilterDecisionRecord => ({
    name: str(),
    phase: pick(['request', 'response', ''] as FilterDecisionRecord['phase'][]),
    decision: pick(['allow', 'deny', 'mutate', 'error', ''] as FilterDecisionRecord['decision'][]),
    reason: str(),
    latencyUs: u64(),
  });
  return (): AuditRecord => ({
    eventId: str(),
    time: new Date(
      pick([
        () => 0,
        () => int(-1999, 1999),
        () => Math.round((rnd() * 2 - 1) * 8.64e15),
        () => Date.now(),
      ])(),
    ),
    user: str(),
    method: str(),
    target: str(),
    outcome: str() as AuditOutcome,
    httpStatus: pick([0, 200, 127, 128, 2 ** 32 - 1, int(0, 2 ** 32 - 1)]),
    errorCode: pick([0, -32603, -1, 1, -(2 ** 31), 2 ** 31 - 1, int(-(2 ** 31), 2 ** 31 - 1)]),
    latencyUs: u64(),
    requestBytes: u64(),
    responseBytes: u64(),
    sessionId: str(),
    reason: str(),
    requestId: str(),
    traceId: str(),
    decision: maybe(() => pick(['allow', 'deny', ''] as const)),
    ruleId: maybe(str),
    filters: maybe(() => Array.from({ length: int(0, 3) }, filter)),
    argumentsDigest: maybe(str),
    clientId: maybe(str),
    groups: maybe(() => Array.from({ length: int(0, 4) }, str)),
    requestBody: maybe(str),
    responseBody: maybe(str),
    bodiesTruncated: maybe(() => rnd() < 0.5),
    era: maybe(str),
  });
}

test('random events encode as protobuf-es encodes them and decode back', () => {
  const seed = 20260314;
  const rnd = prng(seed);
  for (let i = 0; i < 3000; i++) {
    const lone = rnd() < 0.2;
    const r = generator(rnd, lone)();
    const o = { proxyId: rnd() < 0.1 ? '' : 'p😀', server: 'srv' };
    try {
      // With a lone surrogate the decoded string is U+FFFD instead, so only the bytes are compared.
      if (lone) same(r, o);
      else roundTrips(r, o);
    } catch (err) {
      assert.fail(`random event ${i} of seed ${seed} differs: ${(err as Error).message.slice(0, 2000)}`);
    }
  }
});
