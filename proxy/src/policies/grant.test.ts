import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { PolicyIR } from '../ir/proxy-config.ts';
import type { Principal } from './authn.ts';
import { decideGrant } from './grant.ts';

function principal(name: string, groups: string[] = []): Principal {
  return { name, subject: `sub-${name}`, groups, clientId: 'cli', scopes: [] };
}

function policy(users: string[], groups: string[]): PolicyIR {
  return { users: new Set(users), groups: new Set(groups) };
}

describe('decideGrant', () => {
  test('a user named in the policy is allowed, by a user rule', () => {
    assert.deepEqual(decideGrant(principal('ada@example.com'), policy(['ada@example.com'], [])), {
      allowed: true,
      rule: 'user:ada@example.com',
    });
  });

  test('a member of a granted group is allowed, by a group rule', () => {
    assert.deepEqual(decideGrant(principal('bob@example.com', ['sales', 'eng']), policy([], ['eng'])), {
      allowed: true,
      rule: 'group:eng',
    });
  });

  test('the user rule wins when both match', () => {
    const d = decideGrant(principal('ada@example.com', ['eng']), policy(['ada@example.com'], ['eng']));
    assert.deepEqual(d, { allowed: true, rule: 'user:ada@example.com' });
  });

  test('the first matching group of the principal is the rule', () => {
    const d = decideGrant(principal('c', ['ops', 'eng']), policy([], ['eng', 'ops']));
    assert.deepEqual(d, { allowed: true, rule: 'group:ops' });
  });

  test('anyone else is denied, with the name in the reason', () => {
    assert.deepEqual(
      decideGrant(principal('eve@example.com', ['sales']), policy(['ada@example.com'], ['eng'])),
      {
        allowed: false,
        reason: 'no grant for "eve@example.com" on this server',
      },
    );
  });

  test('a user whose name equals a granted group name is not allowed by it', () => {
    const d = decideGrant(principal('eng'), policy([], ['eng']));
    assert.equal(d.allowed, false);
  });

  test('a group whose name equals a granted user name does not allow its members', () => {
    const d = decideGrant(principal('bob@example.com', ['ada@example.com']), policy(['ada@example.com'], []));
    assert.equal(d.allowed, false);
  });

  test('a principal without groups matches no group grant', () => {
    assert.equal(decideGrant(principal('bob@example.com', []), policy([], ['eng'])).allowed, false);
  });

  test('an empty policy denies everyone', () => {
    assert.equal(decideGrant(principal('ada@example.com', ['eng']), policy([], [])).allowed, false);
  });

  test('matching is exact: case and surrounding text matter', () => {
    const p = policy(['ada@example.com'], ['eng']);
    assert.equal(decideGrant(principal('Ada@example.com'), p).allowed, false);
    assert.equal(decideGrant(principal('ada@example.com '), p).allowed, false);
    assert.equal(decideGrant(principal('x', ['Eng', 'eng-team']), p).allowed, false);
  });

  test('an empty name is never granted by accident', () => {
    assert.equal(decideGrant(principal('', ['']), policy(['ada@example.com'], ['eng'])).allowed, false);
  });
});
