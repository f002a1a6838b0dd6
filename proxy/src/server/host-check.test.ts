import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hostAllowed, hostName, isLoopbackListener } from './host-check.ts';

const RESOURCE = 'https://github.mcp.example.com/mcp';

test('a loopback listener admits loopback names, the resource URI host and listed names, with any port', () => {
  for (const host of [
    'localhost',
    'localhost:15001',
    '127.0.0.1:15001',
    '127.0.0.2',
    '[::1]:8080',
    'LOCALHOST',
    'github.localhost:15001',
  ]) {
    assert.ok(hostAllowed(host, '127.0.0.1', RESOURCE), host);
  }
  assert.ok(hostAllowed('github.mcp.example.com:443', '127.0.0.1', RESOURCE));
  assert.ok(hostAllowed('GitHub.MCP.example.com', '127.0.0.1', RESOURCE));
  assert.ok(hostAllowed('dev.internal:15001', 'localhost', RESOURCE, ['dev.internal']));
  assert.ok(hostAllowed('dev.internal', '::1', RESOURCE, ['DEV.internal']));
});

test('a loopback listener refuses a rebound name, a malformed Host and a look-alike', () => {
  for (const host of [
    'evil.example.com',
    'evil.example.com:15001',
    'localhost.evil.example.com',
    '127.0.0.1.evil.example.com',
    'github.mcp.example.com.evil.example.com',
    'user@localhost',
    'localhost/x',
    'local host',
    '',
    '[::1',
  ]) {
    assert.equal(hostAllowed(host, '127.0.0.1', RESOURCE, ['dev.internal']), false, JSON.stringify(host));
  }
});

test('without a Host (HTTP/1.0), or on a listener that is not loopback, Host is not checked', () => {
  assert.ok(hostAllowed(undefined, '127.0.0.1', RESOURCE));
  assert.ok(hostAllowed('evil.example.com', '0.0.0.0', RESOURCE));
  assert.ok(hostAllowed('evil.example.com', '10.0.0.7', RESOURCE));
  assert.ok(hostAllowed('evil.example.com', '::', RESOURCE));
});

test('loopback listeners and host names', () => {
  assert.deepEqual(
    ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]', '0.0.0.0', '::', '10.0.0.1'].map(
      isLoopbackListener,
    ),
    [true, true, true, true, true, false, false, false],
  );
  assert.equal(hostName('Example.COM:80'), 'example.com');
  assert.equal(hostName('[::1]:1'), '[::1]');
  assert.equal(hostName('a b'), undefined);
});
