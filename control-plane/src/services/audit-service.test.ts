import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { AuditEventSchema } from '@tessera/api/mesh/v1/audit';
import { apiKeyUses } from './audit-service.ts';

const event = (clientId: string, iso: string, server = 'keyed') =>
  create(AuditEventSchema, { clientId, server, time: timestampFromDate(new Date(iso)) });

describe('apiKeyUses', () => {
  test('keeps the newest use of each key, whatever the order of the events', () => {
    const uses = apiKeyUses([
      event('apikey:a1b2c3d4e5f6a7b8', '2026-11-23T10:00:02Z'),
      event('apikey:a1b2c3d4e5f6a7b8', '2026-11-23T10:00:01Z'),
      event('apikey:0000000000000000', '2026-11-23T09:00:00Z', 'other'),
    ]);
    assert.deepEqual(Object.fromEntries(uses), {
      a1b2c3d4e5f6a7b8: { time: new Date('2026-11-23T10:00:02Z'), server: 'keyed' },
      '0000000000000000': { time: new Date('2026-11-23T09:00:00Z'), server: 'other' },
    });
  });

  test('ignores OAuth clients and anything that is not a well-formed key id', () => {
    const uses = apiKeyUses([
      event('', '2026-11-23T10:00:00Z'),
      event('https://client.example/metadata.json', '2026-11-23T10:00:00Z'),
      event('apikey:SHORT', '2026-11-23T10:00:00Z'),
      event("apikey:a1b2c3d4e5f6a7b8'; --", '2026-11-23T10:00:00Z'),
    ]);
    assert.equal(uses.size, 0);
  });
});
