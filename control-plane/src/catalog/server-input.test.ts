import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TesseraError } from '../errors.ts';
import { parseGrants, parseServerInput, SERVER_NAME } from './server-input.ts';

const http = {
  name: 'github',
  kind: 'http',
  url: 'http://127.0.0.1:8080/mcp',
  resourceUri: 'http://127.0.0.1:15001/mcp',
};

const stdio = {
  name: 'everything',
  kind: 'stdio',
  command: 'npx',
  args: ['-y', '@modelcontextprotocol/server-everything'],
  resourceUri: 'http://127.0.0.1:15002/mcp',
};

/** Asserts `fn` throws TESSERA_INVALID_ARGUMENT (HTTP 400) with a message matching `message`. */
function refused(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof TesseraError, `expected a TesseraError, got ${String(err)}`);
    assert.equal(err.code, 'TESSERA_INVALID_ARGUMENT');
    assert.equal(err.httpStatus, 400);
    assert.match(err.message, message);
    return true;
  });
}

/** Parses a copy of `body`, checking that a rejected body is left untouched. */
function parseServer(body: Record<string, unknown>): ReturnType<typeof parseServerInput> {
  const before = structuredClone(body);
  try {
    return parseServerInput(body);
  } finally {
    assert.deepEqual(body, before, 'the input was modified');
  }
}

describe('parseServerInput: valid', () => {
  test('an http server', () => {
    assert.deepEqual(parseServer(http), {
      name: 'github',
      kind: 'http',
      command: null,
      args: [],
      url: 'http://127.0.0.1:8080/mcp',
      resourceUri: 'http://127.0.0.1:15001/mcp',
      localPort: null,
      grantUsers: [],
      grantGroups: [],
    });
  });

  test('a stdio server', () => {
    assert.deepEqual(parseServer(stdio), {
      name: 'everything',
      kind: 'stdio',
      command: 'npx',
      args: ['-y', '@modelcontextprotocol/server-everything'],
      url: null,
      resourceUri: 'http://127.0.0.1:15002/mcp',
      localPort: null,
      grantUsers: [],
      grantGroups: [],
    });
  });

  test('a server on the deprecated HTTP+SSE transport: its SSE URL', () => {
    const s = parseServer({ ...http, kind: 'sse', url: 'http://127.0.0.1:3001/sse' });
    assert.equal(s.kind, 'sse');
    assert.equal(s.url, 'http://127.0.0.1:3001/sse');
    assert.equal(s.command, null);
  });

  test('a stdio server without args', () => {
    const { args, ...rest } = stdio;
    assert.deepEqual(parseServer(rest).args, []);
  });

  test('local port and grants', () => {
    const s = parseServer({
      ...http,
      localPort: 15001,
      grants: { users: ['ada@example.com'], groups: ['eng'] },
    });
    assert.equal(s.localPort, 15001);
    assert.deepEqual(s.grantUsers, ['ada@example.com']);
    assert.deepEqual(s.grantGroups, ['eng']);
  });

  test('local ports at both ends of the range', () => {
    assert.equal(parseServer({ ...http, localPort: 1 }).localPort, 1);
    assert.equal(parseServer({ ...http, localPort: 65535 }).localPort, 65535);
  });

  test('URLs are normalised', () => {
    const s = parseServer({
      ...http,
      url: 'HTTP://Example.COM:80/mcp',
      resourceUri: 'https://mcp.example.com',
    });
    assert.equal(s.url, 'http://example.com/mcp');
    assert.equal(s.resourceUri, 'https://mcp.example.com/');
  });

  test('duplicate grant entries are removed, keeping first-seen order', () => {
    const s = parseServer({
      ...http,
      grants: { users: ['b@x', 'a@x', 'b@x'], groups: ['eng', 'eng', 'ops'] },
    });
    assert.deepEqual(s.grantUsers, ['b@x', 'a@x']);
    assert.deepEqual(s.grantGroups, ['eng', 'ops']);
  });

  test('regression: repeated args are kept, since order and repetition change the command', () => {
    const args = ['--allow', 'a', '--allow', 'b', '-v', '-v'];
    assert.deepEqual(parseServer({ ...stdio, args }).args, args);
  });
});

describe('parseServerInput: rejections', () => {
  for (const body of [null, [], 'github', 42, undefined]) {
    test(`a body that is ${JSON.stringify(body)}`, () => {
      refused(() => parseServerInput(body), /the body must be a JSON object/);
    });
  }

  test('an unknown field', () => {
    refused(() => parseServer({ ...http, shell: '/bin/sh' }), /unknown field "shell"/);
    refused(() => parseServer({ ...stdio, env: {} }), /unknown field "env"/);
  });

  for (const name of [undefined, '', 'GitHub', 'under_score', '-lead', 'trail-', 'a.b', 'x'.repeat(64), 7]) {
    test(`the name ${JSON.stringify(name)}`, () => {
      refused(() => parseServer({ ...http, name }), /"name" must be a DNS label/);
    });
  }

  test('SERVER_NAME accepts DNS labels', () => {
    for (const ok of ['a', '0', 'github', 'my-server-2', 'x'.repeat(63)]) assert.ok(SERVER_NAME.test(ok), ok);
  });

  for (const kind of [undefined, 'HTTP', 'SSE', 'websocket', '', 1]) {
    test(`the kind ${JSON.stringify(kind)}`, () => {
      refused(() => parseServer({ ...http, kind }), /"kind" must be "stdio", "http" or "sse"/);
    });
  }

  test('a command on an sse server', () => {
    refused(
      () => parseServer({ ...http, kind: 'sse', command: 'npx' }),
      /"command" and "args" are only for kind "stdio"/,
    );
  });

  test('a url on a stdio server', () => {
    refused(
      () => parseServer({ ...stdio, url: 'http://127.0.0.1:8080/mcp' }),
      /"url" is only for kinds "http" and "sse"/,
    );
  });

  test('a command or args on an http server', () => {
    refused(() => parseServer({ ...http, command: 'npx' }), /"command" and "args" are only for kind "stdio"/);
    refused(() => parseServer({ ...http, args: [] }), /"command" and "args" are only for kind "stdio"/);
  });

  test('a stdio server without a command', () => {
    const { command, ...rest } = stdio;
    refused(() => parseServer(rest), /"command" must be a non-empty string/);
    refused(() => parseServer({ ...stdio, command: '' }), /"command" must be a non-empty string/);
    refused(() => parseServer({ ...stdio, command: ['npx'] }), /"command" must be a non-empty string/);
  });

  test('stdio args that are not a list of non-empty strings', () => {
    for (const args of [
      '-y',
      [1],
      [''],
      [null],
      ['x'.repeat(321)],
      Array.from({ length: 1001 }, () => 'a'),
    ]) {
      refused(
        () => parseServer({ ...stdio, args }),
        /"args" must be an array of at most 1000 non-empty strings/,
      );
    }
  });

  test('an http server without a url, or with a bad one', () => {
    const { url, ...rest } = http;
    refused(() => parseServer(rest), /"url" must be a URL string/);
    refused(() => parseServer({ ...http, url: 'localhost:8080' }), /"url" must be http or https/);
    refused(() => parseServer({ ...http, url: 'not a url' }), /"url" is not a URL: not a url/);
  });

  test('a missing resourceUri', () => {
    const { resourceUri, ...rest } = http;
    refused(() => parseServer(rest), /"resourceUri" must be a URL string/);
  });

  test('a resourceUri that is not a URL', () => {
    refused(() => parseServer({ ...http, resourceUri: '/mcp' }), /"resourceUri" is not a URL: \/mcp/);
  });

  test('a resourceUri that is not http(s)', () => {
    for (const resourceUri of ['ws://h/mcp', 'file:///mcp', 'javascript:alert(1)']) {
      refused(() => parseServer({ ...http, resourceUri }), /"resourceUri" must be http or https/);
    }
  });

  test('a resourceUri with a query or fragment', () => {
    for (const resourceUri of ['http://h/mcp?tenant=a', 'http://h/mcp#x', 'http://h/mcp?', 'http://h/mcp#']) {
      refused(() => parseServer({ ...http, resourceUri }), /"resourceUri" must have no query or fragment/);
    }
  });

  for (const localPort of [0, 65536, -1, 1.5, '15001', null, Number.NaN]) {
    test(`the local port ${String(localPort)}`, () => {
      refused(() => parseServer({ ...http, localPort }), /"localPort" must be an integer in 1..65535/);
    });
  }

  test('grants that are not an object name the grants field', () => {
    for (const grants of [null, [], 'ada', 1]) {
      refused(() => parseServer({ ...http, grants }), /"grants" must be a JSON object/);
    }
  });

  test('an unknown field inside grants names its path', () => {
    refused(() => parseServer({ ...http, grants: { admins: ['a'] } }), /unknown field "grants.admins"/);
  });

  test('grant lists that are not lists of non-empty strings name their path', () => {
    refused(() => parseServer({ ...http, grants: { users: 'ada' } }), /"grants.users" must be an array/);
    refused(
      () => parseServer({ ...http, grants: { users: [''] } }),
      /"grants.users" must be an array of at most 1000 non-empty strings/,
    );
    refused(() => parseServer({ ...http, grants: { groups: [1] } }), /"grants.groups" must be an array/);
  });
});

describe('parseGrants', () => {
  test('users and groups', () => {
    assert.deepEqual(parseGrants({ users: ['a@x'], groups: ['eng'] }), {
      grantUsers: ['a@x'],
      grantGroups: ['eng'],
    });
  });

  test('both lists are optional, and may be empty', () => {
    assert.deepEqual(parseGrants({}), { grantUsers: [], grantGroups: [] });
    assert.deepEqual(parseGrants({ users: [], groups: [] }), { grantUsers: [], grantGroups: [] });
  });

  test('duplicates are removed', () => {
    assert.deepEqual(parseGrants({ users: ['a', 'a', 'b'], groups: ['g', 'g'] }), {
      grantUsers: ['a', 'b'],
      grantGroups: ['g'],
    });
  });

  test('a body that is not an object', () => {
    for (const body of [null, [], 'x', undefined])
      refused(() => parseGrants(body), /the body must be a JSON object/);
  });

  test('an unknown field', () => {
    refused(() => parseGrants({ users: [], roles: [] }), /unknown field "roles"/);
  });

  test('lists that are not lists of short non-empty strings', () => {
    refused(() => parseGrants({ users: 'a' }), /"users" must be an array of at most 1000 non-empty strings/);
    refused(() => parseGrants({ users: [''] }), /"users" must be an array/);
    refused(() => parseGrants({ groups: [{}] }), /"groups" must be an array/);
    refused(() => parseGrants({ groups: ['g'.repeat(321)] }), /"groups" must be an array/);
    refused(
      () => parseGrants({ users: Array.from({ length: 1001 }, (_, i) => `u${i}`) }),
      /"users" must be an array of at most 1000/,
    );
  });

  test('a 320-character entry and 1000 entries are accepted', () => {
    assert.equal(parseGrants({ users: ['u'.repeat(320)] }).grantUsers.length, 1);
    assert.equal(
      parseGrants({ groups: Array.from({ length: 1000 }, (_, i) => `g${i}`) }).grantGroups.length,
      1000,
    );
  });

  test('the input is not modified', () => {
    const body = { users: ['b', 'a', 'b'] };
    parseGrants(body);
    assert.deepEqual(body, { users: ['b', 'a', 'b'] });
  });
});
