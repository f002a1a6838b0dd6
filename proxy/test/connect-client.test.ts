/**
 * The proxy's own Connect client against the reference implementation's server
 * (`@connectrpc/connect-node` over HTTP/2, the stack the control plane runs), and against raw
 * HTTP/2 peers that do what a correct server never would: wrong statuses and content types,
 * compressed or trailing messages, streams cut short, pings never answered.
 */
import assert from 'node:assert/strict';
import {
  createSecureServer,
  createServer,
  type Http2Server,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from 'node:http2';
import type { AddressInfo } from 'node:net';
import { createServer as createNetServer, type Server as NetServer } from 'node:net';
import { after, before, test } from 'node:test';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import {
  CredentialRequestSchema,
  CredentialResponseSchema,
  CredentialService,
} from '@tessera/api/mesh/v1/credentials';
import {
  DiscoveryRequestSchema,
  DiscoveryResponseSchema,
  MeshDiscoveryService,
} from '@tessera/api/mesh/v1/discovery';
import { createConnectClient } from '../src/mesh-api/connect-client.ts';
import { MeshCallError } from '../src/mesh-api/connect-error.ts';
import { encodeEnvelope } from '../src/mesh-api/envelope.ts';
import { createAsyncQueue } from '../src/xds/async-queue.ts';
import { createTestPki } from './helpers/test-pki.ts';

const GET_CREDENTIAL = '/tessera.mesh.v1.CredentialService/GetCredential';
const STREAM = '/tessera.mesh.v1.MeshDiscoveryService/StreamResources';

let connectServer: Http2Server;
let connectUrl: URL;
const sessions = new Set<ServerHttp2Session>();
const seenHeaders: Array<Record<string, string | null>> = [];

before(async () => {
  const handler = connectNodeAdapter({
    routes(router) {
      router.service(CredentialService, {
        async getCredential(request, ctx) {
          seenHeaders.push({
            authorization: ctx.requestHeader.get('authorization'),
            timeout: ctx.requestHeader.get('connect-timeout-ms'),
          });
          if (request.user === 'refused') throw new ConnectError('not this one', Code.PermissionDenied);
          if (request.user === 'slow') await new Promise((r) => setTimeout(r, 1_500));
          if (request.user === 'big') return { connectUrl: `https://x.test/${'a'.repeat(4096)}` };
          return { headers: [{ name: 'x-user', value: request.user }], connectUrl: '' };
        },
      });
      router.service(MeshDiscoveryService, {
        async *streamResources(requests) {
          for await (const req of requests) {
            if (req.typeUrl === 'fail') throw new ConnectError('failing as asked', Code.ResourceExhausted);
            if (req.typeUrl === 'end') return;
            yield create(DiscoveryResponseSchema, { typeUrl: req.typeUrl, nonce: `n-${req.versionInfo}` });
          }
        },
      });
    },
  });
  connectServer = createServer(handler);
  connectServer.on('session', (s) => {
    sessions.add(s);
    s.once('close', () => sessions.delete(s));
  });
  await new Promise<void>((r) => connectServer.listen(0, '127.0.0.1', () => r()));
  connectUrl = new URL(`http://127.0.0.1:${(connectServer.address() as AddressInfo).port}/`);
});

after(() => {
  for (const s of sessions) s.destroy();
  connectServer.close();
});

function credentialRequest(user: string): Uint8Array {
  return toBinary(CredentialRequestSchema, create(CredentialRequestSchema, { server: 'demo', user }));
}

async function rejectsWith(p: Promise<unknown>, code: string, message?: RegExp): Promise<MeshCallError> {
  const err = await p.then(
    () => assert.fail(`expected a ${code} error`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof MeshCallError, `not a MeshCallError: ${String(err)}`);
  assert.equal(err.code, code, err.message);
  if (message) assert.match(err.rawMessage, message);
  return err;
}

/** A raw HTTP/2 server whose every stream is answered by `respond`. */
async function rawPeer(respond: (stream: ServerHttp2Stream) => void): Promise<{ url: URL; close(): void }> {
  const server = createServer();
  const open = new Set<ServerHttp2Session>();
  server.on('session', (s) => {
    open.add(s);
    s.once('close', () => open.delete(s));
  });
  server.on('stream', (stream) => {
    stream.on('error', () => {});
    respond(stream);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    close() {
      for (const s of open) s.destroy();
      server.close();
    },
  };
}

test('a unary call carries the headers and the deadline and returns the answer', async () => {
  const client = createConnectClient({
    baseUrl: connectUrl,
    headers: () => ({ authorization: 'Bearer abc' }),
  });
  try {
    const bytes = await client.unary(GET_CREDENTIAL, credentialRequest('alice'), { timeoutMs: 5_000 });
    const answer = fromBinary(CredentialResponseSchema, bytes);
    assert.deepEqual(
      answer.headers.map((h) => [h.name, h.value]),
      [['x-user', 'alice']],
    );
    assert.deepEqual(seenHeaders.at(-1), { authorization: 'Bearer abc', timeout: '5000' });
    // The connection is reused: a second call works the same.
    const again = await client.unary(GET_CREDENTIAL, credentialRequest('bob'), { timeoutMs: 5_000 });
    assert.equal(fromBinary(CredentialResponseSchema, again).headers[0]?.value, 'bob');
  } finally {
    client.close();
  }
});

test('unary errors: the server’s code and message, an unknown procedure, a deadline, an abort, a size limit', async () => {
  const client = createConnectClient({ baseUrl: connectUrl, maxMessageBytes: 1024 });
  try {
    await rejectsWith(
      client.unary(GET_CREDENTIAL, credentialRequest('refused'), { timeoutMs: 5_000 }),
      'permission_denied',
      /^not this one$/,
    );
    await rejectsWith(
      client.unary('/tessera.mesh.v1.Nope/Nothing', new Uint8Array(), { timeoutMs: 5_000 }),
      'unimplemented',
    );
    await rejectsWith(
      client.unary(GET_CREDENTIAL, credentialRequest('slow'), { timeoutMs: 100 }),
      'deadline_exceeded',
    );
    const abort = new AbortController();
    const pending = client.unary(GET_CREDENTIAL, credentialRequest('slow'), {
      timeoutMs: 5_000,
      signal: abort.signal,
    });
    abort.abort();
    await rejectsWith(pending, 'canceled');
    await rejectsWith(
      client.unary(GET_CREDENTIAL, credentialRequest('big'), { timeoutMs: 5_000 }),
      'resource_exhausted',
    );
    // After all of that the connection still serves calls.
    await client.unary(GET_CREDENTIAL, credentialRequest('alice'), { timeoutMs: 5_000 });
  } finally {
    client.close();
  }
});

test('a refused connection is unavailable, and the next call after the server returns succeeds', async () => {
  const spare = createNetServer();
  await new Promise<void>((r) => spare.listen(0, '127.0.0.1', () => r()));
  const port = (spare.address() as AddressInfo).port;
  await new Promise<void>((r) => spare.close(() => r()));
  const client = createConnectClient({ baseUrl: new URL(`http://127.0.0.1:${port}/`) });
  try {
    await rejectsWith(
      client.unary(GET_CREDENTIAL, credentialRequest('alice'), { timeoutMs: 5_000 }),
      'unavailable',
      /ECONNREFUSED/,
    );
  } finally {
    client.close();
  }
  const live = createConnectClient({ baseUrl: connectUrl });
  try {
    await live.unary(GET_CREDENTIAL, credentialRequest('alice'), { timeoutMs: 5_000 });
    for (const s of sessions) s.destroy(); // the server drops the connection
    await new Promise((r) => setTimeout(r, 50));
    const bytes = await live.unary(GET_CREDENTIAL, credentialRequest('carol'), { timeoutMs: 5_000 });
    assert.equal(fromBinary(CredentialResponseSchema, bytes).headers[0]?.value, 'carol');
  } finally {
    live.close();
  }
});

test('unary answers that are not Connect: an HTML 502, a 200 of the wrong type, a reset stream', async () => {
  const peer = await rawPeer((stream) => {
    const which = streamsSeen++;
    if (which === 0) {
      stream.respond({ ':status': 502, 'content-type': 'text/html' });
      stream.end('<html>bad gateway</html>');
    } else if (which === 1) {
      stream.respond({ ':status': 200, 'content-type': 'application/json' });
      stream.end('{}');
    } else stream.close(2); // INTERNAL_ERROR
  });
  let streamsSeen = 0;
  const client = createConnectClient({ baseUrl: peer.url });
  try {
    await rejectsWith(
      client.unary(GET_CREDENTIAL, new Uint8Array(), { timeoutMs: 5_000 }),
      'unavailable',
      /not a Connect error: <html>bad gateway/,
    );
    await rejectsWith(
      client.unary(GET_CREDENTIAL, new Uint8Array(), { timeoutMs: 5_000 }),
      'internal',
      /content type "application\/json"/,
    );
    await rejectsWith(client.unary(GET_CREDENTIAL, new Uint8Array(), { timeoutMs: 5_000 }), 'unavailable');
  } finally {
    client.close();
    peer.close();
  }
});

test('a bidirectional stream sends requests as they come and yields every answer until the server ends it', async () => {
  const client = createConnectClient({ baseUrl: connectUrl });
  const requests = createAsyncQueue<Uint8Array>();
  const req = (typeUrl: string, versionInfo = '') =>
    toBinary(DiscoveryRequestSchema, create(DiscoveryRequestSchema, { typeUrl, versionInfo }));
  requests.push(req('a', '1'));
  const nonces: string[] = [];
  try {
    for await (const bytes of client.stream(STREAM, requests, { signal: new AbortController().signal })) {
      const response = fromBinary(DiscoveryResponseSchema, bytes);
      nonces.push(response.nonce);
      // Each request is sent only after the previous answer: the request side is live, not buffered.
      if (nonces.length < 3) requests.push(req('a', String(nonces.length + 1)));
      else requests.push(req('end'));
    }
    assert.deepEqual(nonces, ['n-1', 'n-2', 'n-3']);
  } finally {
    requests.end();
    client.close();
  }
});

test('a stream fails with the end-stream error, with the abort reason, and when the connection drops', async () => {
  const client = createConnectClient({ baseUrl: connectUrl });
  const req = (typeUrl: string) =>
    toBinary(DiscoveryRequestSchema, create(DiscoveryRequestSchema, { typeUrl }));
  const drain = async (requests: AsyncIterable<Uint8Array>, signal = new AbortController().signal) => {
    for await (const _ of client.stream(STREAM, requests, { signal })) {
      // answers are not the point here
    }
  };
  try {
    const failing = createAsyncQueue<Uint8Array>();
    failing.push(req('fail'));
    await rejectsWith(drain(failing), 'resource_exhausted', /^failing as asked$/);

    const aborted = createAsyncQueue<Uint8Array>();
    aborted.push(req('x'));
    const abort = new AbortController();
    const reason = new MeshCallError('deadline_exceeded', 'the watchdog fired');
    setTimeout(() => abort.abort(reason), 100);
    assert.equal(await rejectsWith(drain(aborted, abort.signal), 'deadline_exceeded'), reason);

    const dropped = createAsyncQueue<Uint8Array>();
    dropped.push(req('x'));
    setTimeout(() => {
      for (const s of sessions) s.destroy();
    }, 100);
    await rejectsWith(drain(dropped), 'unavailable');
  } finally {
    client.close();
  }
});

test('stream answers that break the protocol fail the stream', async () => {
  const cases: Array<[string, (s: ServerHttp2Stream) => void, string, RegExp]> = [
    [
      'compressed',
      (s) => {
        s.respond({ ':status': 200, 'content-type': 'application/connect+proto' });
        s.write(encodeEnvelope(new Uint8Array([1, 2]), 0x01));
      },
      'internal',
      /compressed/,
    ],
    [
      'after the end',
      (s) => {
        s.respond({ ':status': 200, 'content-type': 'application/connect+proto' });
        s.end(Buffer.concat([encodeEnvelope(Buffer.from('{}'), 0x02), encodeEnvelope(new Uint8Array())]));
      },
      'internal',
      /after the end/,
    ],
    [
      'no end-stream message',
      (s) => {
        s.respond({ ':status': 200, 'content-type': 'application/connect+proto' });
        s.end(encodeEnvelope(new Uint8Array()));
      },
      'unavailable',
      /ended before the server finished/,
    ],
    [
      'a bad end-stream message',
      (s) => {
        s.respond({ ':status': 200, 'content-type': 'application/connect+proto' });
        s.end(encodeEnvelope(Buffer.from('[1]'), 0x02));
      },
      'internal',
      /not a JSON object/,
    ],
    [
      'an oversized message',
      (s) => {
        s.respond({ ':status': 200, 'content-type': 'application/connect+proto' });
        const head = Buffer.alloc(5);
        head.writeUInt32BE(2_000_000, 1);
        s.write(head);
      },
      'resource_exhausted',
      /2000000 bytes is over the limit of 1024/,
    ],
    [
      'an HTTP error',
      (s) => {
        s.respond({ ':status': 401, 'content-type': 'application/json' });
        s.end('{"code":"unauthenticated","message":"who are you"}');
      },
      'unauthenticated',
      /^who are you$/,
    ],
    [
      'the wrong content type',
      (s) => {
        s.respond({ ':status': 200, 'content-type': 'application/proto' });
        s.end();
      },
      'internal',
      /content type "application\/proto"/,
    ],
  ];
  for (const [name, respond, code, message] of cases) {
    const peer = await rawPeer(respond);
    const client = createConnectClient({ baseUrl: peer.url, maxMessageBytes: 1024 });
    const requests = createAsyncQueue<Uint8Array>();
    try {
      const run = async () => {
        for await (const _ of client.stream(STREAM, requests, { signal: new AbortController().signal })) {
          // the answers themselves are irrelevant
        }
      };
      await rejectsWith(run(), code, message).catch((err: Error) => {
        throw new Error(`${name}: ${err.message}`);
      });
    } finally {
      requests.end();
      client.close();
      peer.close();
    }
  }
});

test('a connection whose peer stops answering is given up at the ping deadline', async () => {
  // A TCP peer that takes the connection and never speaks HTTP/2: no SETTINGS, no ping answers.
  const silent: NetServer = createNetServer((socket) => socket.on('error', () => {}));
  const held = new Set<import('node:net').Socket>();
  silent.on('connection', (s) => held.add(s));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
  const client = createConnectClient({
    baseUrl: new URL(`http://127.0.0.1:${(silent.address() as AddressInfo).port}`),
    pingIntervalMs: 50,
    pingTimeoutMs: 100,
  });
  const requests = createAsyncQueue<Uint8Array>();
  try {
    const run = async () => {
      for await (const _ of client.stream(STREAM, requests, { signal: new AbortController().signal })) {
        // nothing arrives
      }
    };
    await rejectsWith(run(), 'unavailable');
  } finally {
    requests.end();
    client.close();
    for (const s of held) s.destroy();
    silent.close();
  }
});

test('over https the server is verified: a trusted certificate works, an unknown CA is refused', async () => {
  const pki = createTestPki({ dns: ['localhost'], ip: ['127.0.0.1'] });
  const server = createSecureServer({ cert: pki.cert, key: pki.key }, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/proto' });
    res.end(Buffer.from([0x0a, 0x01, 0x78]));
  });
  const open = new Set<ServerHttp2Session>();
  server.on('session', (s) => open.add(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const baseUrl = new URL(`https://127.0.0.1:${(server.address() as AddressInfo).port}`);
  const trusted = createConnectClient({ baseUrl, tls: { ca: pki.caCert } });
  const untrusted = createConnectClient({ baseUrl });
  try {
    const bytes = await trusted.unary(GET_CREDENTIAL, new Uint8Array(), { timeoutMs: 5_000 });
    assert.deepEqual([...bytes], [0x0a, 0x01, 0x78]);
    await rejectsWith(
      untrusted.unary(GET_CREDENTIAL, new Uint8Array(), { timeoutMs: 5_000 }),
      'unavailable',
      /certificate/i,
    );
  } finally {
    trusted.close();
    untrusted.close();
    for (const s of open) s.destroy();
    server.close();
    pki.remove();
  }
});
