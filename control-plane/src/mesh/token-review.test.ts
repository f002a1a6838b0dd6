import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Code, ConnectError } from '@connectrpc/connect';
import { localAuthenticator, proxyMeshToken, requireNode } from './mesh-auth.ts';
import {
  createKubernetesAuthenticator,
  identityFromReview,
  MESH_AUDIENCE,
  type TokenReviewStatus,
} from './token-review.ts';

const SECRET = 's'.repeat(40);
const ok = (username: string): TokenReviewStatus => ({
  authenticated: true,
  user: { username },
  audiences: [MESH_AUDIENCE],
});

function code(v: unknown): string {
  return v instanceof ConnectError ? Code[v.code] : 'identity';
}

/** A JWT-shaped token (TokenReview, not this code, checks signatures) with an optional exp. */
function jwt(claims: Record<string, unknown> = {}): string {
  const part = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg: 'RS256' })}.${part(claims)}.sig`;
}

describe('identityFromReview', () => {
  test('the service account named after a server may serve it', () => {
    assert.deepEqual(identityFromReview(ok('system:serviceaccount:team-a:tessera-github'), []), {
      kind: 'serviceaccount',
      namespace: 'team-a',
      name: 'tessera-github',
      server: 'github',
    });
  });

  test('refusals carry the right code', () => {
    assert.equal(code(identityFromReview({ authenticated: false, error: 'expired' }, [])), 'Unauthenticated');
    assert.match(
      (identityFromReview({ authenticated: false, error: 'token expired' }, []) as ConnectError).rawMessage,
      /token expired/,
    );
    // Without our audience in the answer, the token may have been minted for another service.
    assert.equal(
      code(identityFromReview({ ...ok('system:serviceaccount:a:x'), audiences: ['api'] }, [])),
      'Unauthenticated',
    );
    assert.equal(code(identityFromReview({ ...ok('x'), audiences: undefined }, [])), 'Unauthenticated');
    assert.equal(code(identityFromReview(ok('alice@example.com'), [])), 'PermissionDenied');
    assert.equal(
      code(identityFromReview(ok('system:serviceaccount:a:tessera-not.a.server'), [])),
      'PermissionDenied',
    );
    // A service account named like the server itself, without the controller's prefix, serves nothing.
    assert.equal(code(identityFromReview(ok('system:serviceaccount:a:github'), [])), 'PermissionDenied');
  });

  test('a namespace restriction is applied', () => {
    const user = 'system:serviceaccount:team-b:tessera-github';
    assert.equal(code(identityFromReview(ok(user), ['team-a'])), 'PermissionDenied');
    assert.equal(code(identityFromReview(ok(user), ['team-a', 'team-b'])), 'identity');
  });
});

describe('createKubernetesAuthenticator', () => {
  test('reviews JWTs with the mesh audience and caches the answer', async () => {
    const calls: string[][] = [];
    const auth = createKubernetesAuthenticator({
      review: async (_token, audiences) => {
        calls.push(audiences);
        return ok('system:serviceaccount:ns:tessera-github');
      },
      local: localAuthenticator(SECRET),
    });
    const token = jwt();
    for (let i = 0; i < 3; i++) {
      const id = await auth(`Bearer ${token}`);
      assert.equal(id.kind === 'serviceaccount' && id.server, 'github');
    }
    assert.deepEqual(calls, [[MESH_AUDIENCE]]);
  });

  test('bootstrap tokens still work, and garbage is UNAUTHENTICATED without a review', async () => {
    let reviews = 0;
    const auth = createKubernetesAuthenticator({
      review: async () => {
        reviews++;
        return { authenticated: false };
      },
      local: localAuthenticator(SECRET),
    });
    assert.deepEqual(await auth(`Bearer ${proxyMeshToken(SECRET, 'github')}`), {
      kind: 'proxy',
      server: 'github',
    });
    await assert.rejects(auth('Bearer not-a-token'), (e: ConnectError) => e.code === Code.Unauthenticated);
    await assert.rejects(auth(null), (e: ConnectError) => e.code === Code.Unauthenticated);
    await assert.rejects(auth(`Bearer ${jwt()}`), (e: ConnectError) => e.code === Code.Unauthenticated);
    assert.equal(reviews, 1);
  });

  test('a cached identity ends with the token, and a failed review is not cached', async () => {
    let now = 1_000_000;
    let reviews = 0;
    let fail = true;
    const auth = createKubernetesAuthenticator({
      review: async () => {
        reviews++;
        if (fail) throw new Error('connect ECONNREFUSED');
        return ok('system:serviceaccount:ns:tessera-github');
      },
      local: localAuthenticator(SECRET),
      now: () => now,
    });
    const token = jwt({ exp: now / 1000 + 5 });
    await assert.rejects(auth(`Bearer ${token}`), (e: ConnectError) => e.code === Code.Unavailable);
    fail = false;
    await auth(`Bearer ${token}`);
    await auth(`Bearer ${token}`);
    assert.equal(reviews, 2);
    now += 6_000; // past exp, well within the cache time
    await auth(`Bearer ${token}`);
    assert.equal(reviews, 3);
  });
});

describe('requireNode', () => {
  const sa = { kind: 'serviceaccount', namespace: 'ns', name: 'tessera-github', server: 'github' } as const;
  const node = { mcpServer: 'github', namespace: '', serviceAccount: '' };
  test('a node may restate its own identity, never another', () => {
    assert.doesNotThrow(() =>
      requireNode(sa, { ...node, namespace: 'ns', serviceAccount: 'tessera-github' }),
    );
    assert.doesNotThrow(() => requireNode(sa, node));
    for (const bad of [
      { ...node, mcpServer: 'gitlab' },
      { ...node, namespace: 'other' },
      { ...node, serviceAccount: 'gitlab' },
    ]) {
      assert.throws(
        () => requireNode(sa, bad),
        (e: ConnectError) => e.code === Code.PermissionDenied,
      );
    }
    assert.throws(
      () => requireNode({ kind: 'proxy', server: 'github' }, { ...node, mcpServer: 'gitlab' }),
      (e: ConnectError) => e.code === Code.PermissionDenied,
    );
  });
});
