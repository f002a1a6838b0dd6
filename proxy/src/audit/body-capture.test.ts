import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  argumentsDigest,
  canonicalJson,
  capturedBody,
  REDACTED,
  redact,
  UNPARSEABLE,
} from './body-capture.ts';

test('canonicalJson sorts keys at every level and drops undefined members', () => {
  assert.equal(canonicalJson({ b: [{ y: 1, x: 2 }], a: 'é', u: undefined }), '{"a":"é","b":[{"x":2,"y":1}]}');
  assert.equal(canonicalJson(null), 'null');
});

test('argumentsDigest: key order does not matter, values do; none gives ""', () => {
  assert.equal(argumentsDigest({ a: 1, b: 2 }), argumentsDigest({ b: 2, a: 1 }));
  assert.notEqual(argumentsDigest({ a: 1 }), argumentsDigest({ a: 2 }));
  assert.match(argumentsDigest({}), /^[0-9a-f]{64}$/);
  assert.equal(argumentsDigest(undefined), '');
});

test('redact replaces values under secret-looking keys, at any depth', () => {
  assert.deepEqual(
    redact({
      user: 'a',
      password: 'p',
      nested: [{ apiKey: 'k', API_KEY: 'k', other: 1 }],
      Authorization: 'Bearer x',
      access_token: { t: 1 },
    }),
    {
      user: 'a',
      password: REDACTED,
      nested: [{ apiKey: REDACTED, API_KEY: REDACTED, other: 1 }],
      Authorization: REDACTED,
      access_token: REDACTED,
    },
  );
});

test('capturedBody: JSON redacted and cut; unparseable withheld; SSE event by event', () => {
  const json = Buffer.from(
    JSON.stringify({ params: { arguments: { secret: 's3cr3t', q: 'x'.repeat(100) } } }),
  );
  const full = capturedBody(json, 'application/json', 1000, true);
  assert.equal(full.truncated, false);
  assert.doesNotMatch(full.text, /s3cr3t/);
  const cutOne = capturedBody(json, 'application/json', 40, true);
  assert.equal(cutOne.truncated, true);
  assert.ok(Buffer.byteLength(cutOne.text) <= 40);
  assert.doesNotMatch(cutOne.text, /s3cr3t/);
  // A capture cut before parsing cannot be redacted, so it is withheld.
  assert.deepEqual(capturedBody(json.subarray(0, 30), 'application/json', 1000, false), {
    text: UNPARSEABLE,
    truncated: true,
  });
  assert.equal(capturedBody(Buffer.from('not json'), 'application/json', 1000, true).text, UNPARSEABLE);
  const sse = Buffer.from('event: message\ndata: {"result":{"token":"t0k"}}\n\nevent: message\ndata: {"x":');
  const s = capturedBody(sse, 'text/event-stream', 1000, false);
  assert.match(s.text, /\[REDACTED\]/);
  assert.doesNotMatch(s.text, /t0k|"x"/);
  assert.equal(s.truncated, true);
});
