import assert from 'node:assert/strict';
import { test } from 'node:test';
import { allows, isRole, type RoleBinding, rolesOf } from './roles.ts';

const bindings: RoleBinding[] = [
  { kind: 'user', principal: 'Ada@Example.com', role: 'owner' },
  { kind: 'group', principal: 'sec-audit', role: 'auditor' },
  { kind: 'group', principal: 'eng', role: 'power_user' },
  { kind: 'group', principal: 'eng', role: 'basic' },
];

test('roles come from the user binding and from every group, in rank order, once each', () => {
  assert.deepEqual(rolesOf('ada@example.com', ['eng'], bindings), ['owner', 'power_user', 'basic']);
  assert.deepEqual(rolesOf('bob@example.com', ['sec-audit', 'eng', 'eng'], bindings), [
    'auditor',
    'power_user',
    'basic',
  ]);
  assert.deepEqual(rolesOf('eve@example.com', ['Eng', 'sec-audit-2'], bindings), [], 'groups match exactly');
});

test('only the auditor reads captured bodies; owners and admins manage but do not read bodies', () => {
  assert.equal(allows(['auditor'], 'read_audit_bodies'), true);
  for (const r of ['owner', 'admin', 'power_user', 'basic'] as const) {
    assert.equal(allows([r], 'read_audit_bodies'), false, r);
  }
  assert.equal(allows(['owner'], 'manage_identity'), true);
  assert.equal(allows(['admin'], 'manage_catalog'), true);
  assert.equal(allows(['auditor'], 'manage_catalog'), false);
  assert.equal(allows(['power_user'], 'manage_catalog'), false);
  assert.equal(allows(['basic'], 'read_audit'), false);
  assert.equal(allows([], 'use_servers'), false, 'no role, no permission');
});

test('isRole accepts exactly the five roles', () => {
  for (const r of ['owner', 'admin', 'auditor', 'power_user', 'basic']) assert.equal(isRole(r), true);
  for (const r of ['Owner', 'root', '', 1, null]) assert.equal(isRole(r), false);
});
