import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Code, ConnectError } from '@connectrpc/connect';
import { proxyMeshToken, requireMeshToken, requireServer, secretEquals } from './mesh-auth.ts';

const TOKEN = 'm'.repeat(40);

function unauthenticated(authorization: string | null, meshToken = TOKEN): void {
  assert.throws(
    () => requireMeshToken(authorization, meshToken),
    (err: unknown) => {
      assert.ok(err instanceof ConnectError, `expected a ConnectError, got ${String(err)}`);
      assert.equal(err.code, Code.Unauthenticated);
      assert.equal(err.rawMessage, 'a valid mesh token is required');
      return true;
    },
  );
}

describe('secretEquals', () => {
  test('equal secrets', () => {
    assert.equal(secretEquals('abc', 'abc'), true);
    assert.equal(secretEquals('', ''), true);
    assert.equal(secretEquals('ünïcödé', 'ünïcödé'), true);
  });

  test('different secrets of equal length', () => {
    assert.equal(secretEquals('abc', 'abd'), false);
  });

  test('different lengths compare without throwing', () => {
    assert.equal(secretEquals('abc', 'abcd'), false);
    assert.equal(secretEquals('', 'a'), false);
    assert.equal(secretEquals('a'.repeat(10_000), 'a'), false);
  });

  test('a prefix is not equal', () => {
    assert.equal(secretEquals(TOKEN.slice(0, -1), TOKEN), false);
  });
});

describe('requireMeshToken', () => {
  test('accepts the mesh token as a bearer token', () => {
    assert.doesNotThrow(() => requireMeshToken(`Bearer ${TOKEN}`, TOKEN));
  });

  test('refuses a missing header', () => {
    unauthenticated(null);
    unauthenticated('');
  });

  test('refuses a wrong token', () => {
    unauthenticated(`Bearer ${'x'.repeat(40)}`);
    unauthenticated(`Bearer ${TOKEN}x`);
    unauthenticated(`Bearer ${TOKEN.slice(1)}`);
  });

  test('refuses other schemes and a bare token', () => {
    unauthenticated(`Basic ${TOKEN}`);
    unauthenticated(TOKEN);
    unauthenticated(`Bearer${TOKEN}`);
  });

  test('refuses an empty bearer token', () => {
    unauthenticated('Bearer ');
    unauthenticated('Bearer');
  });

  test('refuses a token with surrounding whitespace', () => {
    unauthenticated(`Bearer  ${TOKEN}`);
    unauthenticated(`Bearer ${TOKEN} `);
  });

  test('an empty configured token never matches a bare scheme', () => {
    unauthenticated('Bearer ', '');
    unauthenticated('Bearer', '');
  });
});

describe('proxy mesh tokens', () => {
  const secret = 's'.repeat(40);

  test('a proxy token identifies its server; the secret itself is the root identity', () => {
    assert.deepEqual(requireMeshToken(`Bearer ${proxyMeshToken(secret, 'github')}`, secret), {
      kind: 'proxy',
      server: 'github',
    });
    assert.deepEqual(requireMeshToken(`Bearer ${secret}`, secret), { kind: 'root' });
  });

  test('a token derived from another secret, or renamed to another server, is refused', () => {
    unauthenticated(`Bearer ${proxyMeshToken('x'.repeat(40), 'github')}`, secret);
    unauthenticated(`Bearer ${proxyMeshToken(secret, 'github').replace('.github.', '.gitlab.')}`, secret);
  });

  test('requireServer lets the root act for any server and a proxy only for its own', () => {
    assert.doesNotThrow(() => requireServer({ kind: 'root' }, 'any', 'x'));
    assert.doesNotThrow(() => requireServer({ kind: 'proxy', server: 'a' }, 'a', 'x'));
    assert.throws(
      () => requireServer({ kind: 'proxy', server: 'a' }, 'b', 'node.mcp_server'),
      (err: unknown) =>
        err instanceof ConnectError && err.code === Code.PermissionDenied && /not "b"/.test(err.rawMessage),
    );
  });
});
