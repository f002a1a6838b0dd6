import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { checkCallback, pkce } from './authorization-response.ts';

const expected = { state: 'st-123', issuer: 'https://as.example.com', issParameterSupported: true };
const q = (o: Record<string, string>) => new URLSearchParams(o);

describe('authorization response', () => {
  test('PKCE S256: the challenge is the hash of the verifier', () => {
    const { verifier, challenge } = pkce();
    assert.match(verifier, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(challenge, createHash('sha256').update(verifier).digest('base64url'));
    assert.notEqual(pkce().verifier, verifier);
  });

  test('a good callback yields the code', () => {
    assert.deepEqual(
      checkCallback(q({ state: 'st-123', iss: 'https://as.example.com', code: 'c' }), expected),
      {
        ok: true,
        code: 'c',
      },
    );
  });

  test('RFC 9207: a wrong iss is refused; a missing one only when the server announced support', () => {
    const wrong = checkCallback(q({ state: 'st-123', iss: 'https://evil.example.com', code: 'c' }), expected);
    assert.equal(wrong.ok || wrong.error, 'iss_mismatch');
    const missing = checkCallback(q({ state: 'st-123', code: 'c' }), expected);
    assert.equal(missing.ok || missing.error, 'iss_missing');
    assert.equal(
      checkCallback(q({ state: 'st-123', code: 'c' }), { ...expected, issParameterSupported: false }).ok,
      true,
    );
  });

  test('a wrong state, an error answer and a missing code are refused', () => {
    const r1 = checkCallback(q({ state: 'other', iss: expected.issuer, code: 'c' }), expected);
    assert.equal(r1.ok || r1.error, 'state_mismatch');
    const r2 = checkCallback(q({ state: 'st-123', iss: expected.issuer, error: 'access_denied' }), expected);
    assert.equal(r2.ok || r2.error, 'denied');
    const r3 = checkCallback(q({ state: 'st-123', iss: expected.issuer }), expected);
    assert.equal(r3.ok || r3.error, 'no_code');
  });
});
