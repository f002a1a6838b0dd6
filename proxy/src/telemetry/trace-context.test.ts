import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { continueTrace, formatTraceparent, parseTraceparent } from './trace-context.ts';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_ID = '00f067aa0ba902b7';
const VALID = `00-${TRACE_ID}-${PARENT_ID}-01`;
const FORMAT = /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

/** A deterministic byte source: each call returns `size` bytes of the next value in `fill`. */
function bytesOf(...fill: number[]) {
  let i = 0;
  return (size: number) => Buffer.alloc(size, fill[i++ % fill.length]);
}

describe('parseTraceparent', () => {
  test('parses the example of the specification', () => {
    assert.deepEqual(parseTraceparent(VALID), { traceId: TRACE_ID, parentId: PARENT_ID, flags: 1 });
    assert.deepEqual(parseTraceparent(`00-${TRACE_ID}-${PARENT_ID}-00`)?.flags, 0);
  });

  const invalid: Array<[string, string | string[] | undefined]> = [
    ['absent', undefined],
    ['empty', ''],
    ['several headers', [VALID, VALID]],
    ['one character short', VALID.slice(0, 54)],
    ['one character long (version 00)', `${VALID}0`],
    ['trailing field on version 00', `${VALID}-extra`],
    ['upper-case hex in the trace id', `00-${TRACE_ID.toUpperCase()}-${PARENT_ID}-01`],
    ['upper-case hex in the parent id', `00-${TRACE_ID}-00F067AA0BA902B7-01`],
    ['upper-case version', `0A-${TRACE_ID}-${PARENT_ID}-01`],
    ['non-hex character', `00-${TRACE_ID.slice(0, 31)}g-${PARENT_ID}-01`],
    ['version ff', `ff-${TRACE_ID}-${PARENT_ID}-01`],
    ['all-zero trace id', `00-${'0'.repeat(32)}-${PARENT_ID}-01`],
    ['all-zero parent id', `00-${TRACE_ID}-${'0'.repeat(16)}-01`],
    ['wrong separator', `00_${TRACE_ID}-${PARENT_ID}-01`],
    ['trace id too short, parent id too long', `00-${TRACE_ID.slice(1)}-${PARENT_ID}0-01`],
    ['future version with more data not after a dash', `cc-${TRACE_ID}-${PARENT_ID}-01x`],
  ];
  for (const [name, value] of invalid) {
    test(`invalid: ${name}`, () => assert.equal(parseTraceparent(value), undefined));
  }

  test('a future version is parsed as 00 on its first 55 characters', () => {
    assert.deepEqual(parseTraceparent(`cc-${TRACE_ID}-${PARENT_ID}-01`), {
      traceId: TRACE_ID,
      parentId: PARENT_ID,
      flags: 1,
    });
    assert.equal(parseTraceparent(`cc-${TRACE_ID}-${PARENT_ID}-01-what-the-future-holds`)?.traceId, TRACE_ID);
  });
});

describe('formatTraceparent', () => {
  test('writes version 00 with two-digit flags', () => {
    assert.equal(formatTraceparent(TRACE_ID, PARENT_ID, 1), VALID);
    assert.equal(formatTraceparent(TRACE_ID, PARENT_ID, 0), `00-${TRACE_ID}-${PARENT_ID}-00`);
  });
});

describe('continueTrace', () => {
  test('without a traceparent, starts a sampled trace with random ids and no tracestate', () => {
    const trace = continueTrace({ tracestate: 'vendor=x' });
    assert.match(trace.traceparent, FORMAT);
    assert.ok(trace.traceparent.endsWith('-01'));
    assert.ok(parseTraceparent(trace.traceparent), 'the generated header is valid');
    assert.equal(trace.traceparent, `00-${trace.traceId}-${trace.spanId}-01`);
    assert.equal(trace.parentSpanId, undefined);
    assert.equal(trace.tracestate, undefined);
    assert.notEqual(continueTrace({}).traceId, trace.traceId);
  });

  test('with a valid traceparent, keeps the trace id and the tracestate, with the proxy as the parent', () => {
    const trace = continueTrace({
      traceparent: VALID,
      tracestate: 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7',
    });
    assert.equal(trace.traceId, TRACE_ID);
    assert.equal(trace.parentSpanId, PARENT_ID);
    assert.notEqual(trace.spanId, PARENT_ID);
    assert.equal(trace.traceparent, `00-${TRACE_ID}-${trace.spanId}-01`);
    assert.equal(trace.tracestate, 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7');
  });

  test('keeps the sampled flag as sent, zeroes unknown flags and answers in version 00', () => {
    assert.ok(continueTrace({ traceparent: `00-${TRACE_ID}-${PARENT_ID}-00` }).traceparent.endsWith('-00'));
    const future = continueTrace({ traceparent: `cc-${TRACE_ID}-${PARENT_ID}-ff-more` });
    assert.match(future.traceparent, new RegExp(`^00-${TRACE_ID}-[0-9a-f]{16}-01$`));
  });

  test('an invalid traceparent starts a new trace and drops the tracestate', () => {
    const bad = `00-${'0'.repeat(32)}-${PARENT_ID}-01`;
    const trace = continueTrace({ traceparent: bad, tracestate: 'congo=t61rcWkgMzE' });
    assert.notEqual(trace.traceId, '0'.repeat(32));
    assert.match(trace.traceparent, FORMAT);
    assert.equal(trace.parentSpanId, undefined);
    assert.equal(trace.tracestate, undefined);
  });

  test('never produces an all-zero id, even when the random source does', () => {
    const trace = continueTrace({}, bytesOf(0, 0xab, 0, 0xcd));
    assert.equal(trace.spanId, 'ab'.repeat(8));
    assert.equal(trace.traceId, 'cd'.repeat(16));
  });

  test('an empty tracestate is not forwarded', () => {
    assert.equal(continueTrace({ traceparent: VALID, tracestate: '  ' }).tracestate, undefined);
  });
});
