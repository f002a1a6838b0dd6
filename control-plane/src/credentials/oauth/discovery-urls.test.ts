import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  authorizationServerMetadataUrls,
  protectedResourceMetadataUrls,
  resourceMetadataFromChallenge,
} from './discovery-urls.ts';

describe('OAuth discovery URLs', () => {
  test('resource_metadata is read from a Bearer challenge, quoted or not', () => {
    assert.equal(
      resourceMetadataFromChallenge(
        'Bearer error="invalid_token", resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp"',
      ),
      'https://mcp.example.com/.well-known/oauth-protected-resource/mcp',
    );
    assert.equal(
      resourceMetadataFromChallenge('Bearer resource_metadata=https://m.example/x'),
      'https://m.example/x',
    );
    assert.equal(
      resourceMetadataFromChallenge('Basic realm="x", Bearer resource_metadata="https://a/b"'),
      'https://a/b',
    );
  });

  test('no Bearer challenge or no parameter gives nothing', () => {
    assert.equal(resourceMetadataFromChallenge(undefined), undefined);
    assert.equal(resourceMetadataFromChallenge('Basic realm="resource_metadata"'), undefined);
    assert.equal(resourceMetadataFromChallenge('Bearer realm="x"'), undefined);
    assert.equal(resourceMetadataFromChallenge('Bearer xresource_metadata="https://a"'), undefined);
  });

  test('protected-resource metadata: path-inserted first, then the root', () => {
    assert.deepEqual(protectedResourceMetadataUrls('https://mcp.example.com/public/mcp'), [
      'https://mcp.example.com/.well-known/oauth-protected-resource/public/mcp',
      'https://mcp.example.com/.well-known/oauth-protected-resource',
    ]);
    assert.deepEqual(protectedResourceMetadataUrls('https://mcp.example.com/'), [
      'https://mcp.example.com/.well-known/oauth-protected-resource',
    ]);
  });

  test('authorization-server metadata, in the order of the MCP specification', () => {
    assert.deepEqual(authorizationServerMetadataUrls('https://auth.example.com/tenant1'), [
      'https://auth.example.com/.well-known/oauth-authorization-server/tenant1',
      'https://auth.example.com/.well-known/openid-configuration/tenant1',
      'https://auth.example.com/tenant1/.well-known/openid-configuration',
    ]);
    assert.deepEqual(authorizationServerMetadataUrls('https://auth.example.com'), [
      'https://auth.example.com/.well-known/oauth-authorization-server',
      'https://auth.example.com/.well-known/openid-configuration',
    ]);
  });
});
