import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createSseEventParser, sseEvents } from './sse-event-parser.ts';

test('an endpoint event then messages, split anywhere across chunks', () => {
  const stream =
    'event: endpoint\ndata: /messages?sessionId=abc\n\n' +
    'event: message\ndata: {"jsonrpc":"2.0","id":1,"result":{}}\n\n' +
    ': keep-alive comment\n\n' +
    'data: {"jsonrpc":"2.0","method":"x"}\n\n';
  const expected = [
    { event: 'endpoint', data: '/messages?sessionId=abc', id: undefined },
    { event: 'message', data: '{"jsonrpc":"2.0","id":1,"result":{}}', id: undefined },
    { event: 'message', data: '{"jsonrpc":"2.0","method":"x"}', id: undefined },
  ];
  for (let size = 1; size <= stream.length; size += 7) {
    const parser = createSseEventParser();
    const events = [];
    for (let i = 0; i < stream.length; i += size) events.push(...parser.push(stream.slice(i, i + size)));
    assert.deepEqual(events, expected, `chunks of ${size}`);
  }
});

test('CRLF and lone CR line endings, a CRLF split between chunks', () => {
  const parser = createSseEventParser();
  const events = [
    ...parser.push('event: a\r\ndata: 1\r'),
    ...parser.push('\n\r\n'),
    ...parser.push('data: 2\r\r'),
  ];
  assert.deepEqual(
    events.map((e) => [e.event, e.data]),
    [
      ['a', '1'],
      ['message', '2'],
    ],
  );
});

test('multi-line data joins with LF; no space after the colon is kept; id is remembered', () => {
  const parser = createSseEventParser();
  const [e] = parser.push('id: 7\ndata:a\ndata:  b\nretry: 10\nunknown: x\n\n');
  assert.deepEqual(e, { event: 'message', data: 'a\n b', id: '7' });
  assert.equal(parser.push('data: c\n\n')[0]?.id, '7');
});

test('an event without data is not dispatched; an unterminated event waits', () => {
  const parser = createSseEventParser();
  assert.deepEqual(parser.push('event: endpoint\n\n'), []);
  assert.deepEqual(parser.push('data: half'), []);
  assert.equal(parser.push('\n\n').length, 1);
});

test('an over-long event or line throws rather than growing', () => {
  assert.throws(() => createSseEventParser(16).push(`data: ${'x'.repeat(20)}\n`), RangeError);
  assert.throws(() => createSseEventParser(16).push('data: x\n'.repeat(10)), RangeError);
  assert.throws(() => createSseEventParser(16).push('x'.repeat(20)), RangeError);
});

test('retry sets the reconnection time only when it is all ASCII digits, dispatched or not', () => {
  const parser = createSseEventParser();
  assert.equal(parser.retryMs, undefined);
  parser.push('retry: 3000\n');
  assert.equal(parser.retryMs, 3000, 'a field takes effect without a blank line or data');
  for (const bad of ['retry: -5\n', 'retry: 1.5\n', 'retry: 2s\n', 'retry:\n', 'retry: 1 \n']) {
    parser.push(bad);
    assert.equal(parser.retryMs, 3000, `${JSON.stringify(bad)} is ignored`);
  }
  assert.deepEqual(parser.push('id: 9\nretry: 50\ndata: \n\n'), [{ event: 'message', data: '', id: '9' }]);
  assert.equal(parser.retryMs, 50);
});

test('sseEvents: a byte stream split anywhere, even inside a UTF-8 character, gives the same events', async () => {
  const bytes = Buffer.from('id: 7\nretry: 250\ndata: héllo 🌍\n\nevent: endpoint\ndata: /m\n\n');
  for (let cut = 1; cut < bytes.length; cut++) {
    const parser = createSseEventParser();
    const events = [];
    for await (const e of sseEvents([bytes.subarray(0, cut), bytes.subarray(cut)], parser)) events.push(e);
    assert.deepEqual(events, [
      { event: 'message', data: 'héllo 🌍', id: '7' },
      { event: 'endpoint', data: '/m', id: '7' },
    ]);
    assert.equal(parser.retryMs, 250);
  }
});
