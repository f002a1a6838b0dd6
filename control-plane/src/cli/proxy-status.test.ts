import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ProxyStatus } from '../mesh/config-hub.ts';
import { formatProxyStatus } from './proxy-status.ts';

const url = (t: string) => `type.googleapis.com/tessera.mesh.v1.${t}`;

test('one row per proxy with per-type state and version, NACK errors listed below', () => {
  const proxies: ProxyStatus[] = [
    {
      streamId: 's1',
      nodeId: 'local-github',
      server: 'github',
      role: 'sidecar',
      controlPlaneId: 'cp-1',
      connectedAt: '2026-11-23T20:00:00.000Z',
      types: [
        {
          typeUrl: url('TrustBundle'),
          state: 'SYNCED',
          sentVersion: 'aaaaaaaa11',
          ackedVersion: 'aaaaaaaa11',
          error: '',
          lastError: 'unknown issuer',
          lastErrorAt: '2026-11-23T20:00:30.000Z',
        },
        {
          typeUrl: url('Upstream'),
          state: 'STALE',
          sentVersion: 'bbbbbbbb22',
          ackedVersion: 'b0',
          error: '',
          lastError: '',
          lastErrorAt: '',
        },
        {
          typeUrl: url('ServerPolicy'),
          state: 'NACKED',
          sentVersion: 'cccccccc33',
          ackedVersion: 'c0',
          error: 'bad grant',
          lastError: 'bad grant',
          lastErrorAt: '2026-11-23T20:01:00.000Z',
        },
      ],
    },
    {
      streamId: 's0',
      nodeId: 'local-everything',
      server: 'everything',
      role: 'stdio',
      controlPlaneId: 'cp-1',
      connectedAt: '2026-11-23T19:00:00.000Z',
      types: [],
    },
  ];
  const out = formatProxyStatus(proxies).split('\n');
  assert.match(out[0]!, /^NODE\s+SERVER\s+ROLE\s+REPLICA\s+CONNECTED\s+TRUST\s+UPSTREAM\s+POLICY\s+AUDIT$/);
  assert.match(
    out[1]!,
    /^local-everything\s+everything\s+stdio\s+cp-1\s+2026-11-23T19:00:00.000Z\s+NOT_SENT\s+NOT_SENT/,
  );
  assert.match(
    out[2]!,
    /^local-github\s+github\s+sidecar\s+cp-1\s+\S+\s+SYNCED aaaaaaaa\s+STALE bbbbbbbb\s+NACKED cccccccc\s+NOT_SENT$/,
  );
  assert.equal(out[4], 'local-github rejected ServerPolicy cccccccc33: bad grant');
  assert.equal(
    out[5],
    'local-github TrustBundle recovered; last error at 2026-11-23T20:00:30.000Z: unknown issuer',
  );
});

test('no proxies', () => {
  assert.match(formatProxyStatus([]), /No proxies are connected/);
});

test('a partial answer says that other replicas could not be read', () => {
  assert.match(formatProxyStatus([], true), /only this replica/);
});
