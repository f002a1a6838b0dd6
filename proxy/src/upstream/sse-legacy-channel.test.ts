import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resolveEndpoint } from './sse-legacy-channel.ts';

const sse = new URL('http://127.0.0.1:3001/mcp/sse?x=1');

test('a relative or same-origin endpoint resolves against the SSE URL', () => {
  assert.equal(
    resolveEndpoint('/messages?sessionId=a', sse).href,
    'http://127.0.0.1:3001/messages?sessionId=a',
  );
  assert.equal(
    resolveEndpoint('messages?sessionId=a', sse).href,
    'http://127.0.0.1:3001/mcp/messages?sessionId=a',
  );
  assert.equal(resolveEndpoint(' http://127.0.0.1:3001/m#frag ', sse).href, 'http://127.0.0.1:3001/m');
});

test('an endpoint on another origin is refused', () => {
  for (const data of [
    'http://198.51.100.7/messages',
    'https://127.0.0.1:3001/messages',
    'http://127.0.0.1:3002/messages',
    '//evil.example/messages',
    'http://user@127.0.0.1.evil.example:3001/',
  ]) {
    assert.throws(() => resolveEndpoint(data, sse), /another origin/, data);
  }
});

test('an endpoint that is no URL reference is refused', () => {
  assert.throws(() => resolveEndpoint('http://[::1', sse), /not a URL/);
});
