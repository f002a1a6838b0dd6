import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TesseraError } from '../errors.ts';
import {
  type ChannelSession,
  createChannelSession,
  LATE_WATCH_MS,
  MAX_LATE_WATCHED,
} from './channel-session.ts';
import type { ChannelHandlers } from './message-channel.ts';

/**
 * A session on an in-memory channel: `sent` holds what the session wrote, `answer` plays the server's
 * side, and `end` ends the channel as a crashed child would.
 */
function session(requestTimeoutMs: number, idleTimeoutMs = 60_000) {
  let handlers!: ChannelHandlers;
  const sent: Record<string, unknown>[] = [];
  let exited!: () => void;
  const exit = new Promise<void>((resolve) => {
    exited = resolve;
  });
  const s: ChannelSession = createChannelSession({
    id: 's1',
    principal: 'alice',
    requestTimeoutMs,
    idleTimeoutMs,
    pingIntervalMs: 60_000,
    log: () => {},
    maxPending: 1024,
    onEnd: () => {},
    open: (h) => {
      handlers = h;
      return {
        send: (message) => {
          sent.push(message as Record<string, unknown>);
          return true;
        },
        close: async () => {
          exited();
        },
        exit,
      };
    },
  });
  const answer = (id: unknown, body: Record<string, unknown>) => {
    const message = { jsonrpc: '2.0', id, ...body };
    handlers.onMessage(message, JSON.stringify(message));
  };
  const end = () => {
    handlers.onEnd({ code: 'TESSERA_UPSTREAM_UNAVAILABLE', message: 'the child exited', undelivered: [] });
    exited();
  };
  return { s, sent, answer, end };
}

const timedOut = (err: unknown) => err instanceof TesseraError && err.code === 'TESSERA_UPSTREAM_TIMEOUT';

/** A session whose first call, a subscribe with a `late` listener, has just timed out. */
async function afterTimeout() {
  const t = session(20);
  const heard: (boolean | undefined)[] = [];
  await assert.rejects(
    t.s.call('resources/subscribe', { uri: 'a://1' }, (ok) => heard.push(ok)),
    timedOut,
  );
  return { ...t, heard };
}

describe('a call of the proxy’s own that times out', () => {
  test('rejects at the timeout, and its late answer reaches the `late` listener once', async () => {
    const { sent, answer, heard } = await afterTimeout();
    const id = sent[0]!.id;
    answer(id, { result: {} });
    answer(id, { result: {} });
    assert.deepEqual(heard, [true]);
  });

  test('a late error answer is heard as not accepted', async () => {
    const { sent, answer, heard } = await afterTimeout();
    answer(sent[0]!.id, { error: { code: -32602, message: 'no such resource' } });
    assert.deepEqual(heard, [false]);
  });

  test('an answer in time goes to the caller, never to `late`', async () => {
    const { s, sent, answer } = session(5_000);
    const heard: (boolean | undefined)[] = [];
    const call = s.call('resources/subscribe', { uri: 'a://1' }, (ok) => heard.push(ok));
    answer(sent[0]!.id, { result: { x: 1 } });
    assert.deepEqual(await call, { x: 1 });
    answer(sent[0]!.id, { result: {} });
    assert.deepEqual(heard, []);
  });

  test('when the channel ends first, the listener hears that nothing will come, and nothing after', async () => {
    const { sent, answer, end, heard } = await afterTimeout();
    end();
    answer(sent[0]!.id, { result: {} });
    assert.deepEqual(heard, [undefined]);
  });

  test(`at most ${MAX_LATE_WATCHED} timed-out calls are listened for: the oldest is let go`, async () => {
    const { s, sent, answer } = session(20);
    const heard: [number, boolean | undefined][] = [];
    const calls = Array.from({ length: MAX_LATE_WATCHED + 1 }, (_, i) =>
      assert.rejects(
        s.call('resources/subscribe', { uri: `a://${i}` }, (ok) => heard.push([i, ok])),
        timedOut,
      ),
    );
    await Promise.all(calls);
    answer(sent[0]!.id, { result: {} });
    answer(sent[MAX_LATE_WATCHED]!.id, { result: {} });
    assert.deepEqual(heard, [
      [0, undefined],
      [MAX_LATE_WATCHED, true],
    ]);
  });

  test(`an answer that has not come within ${LATE_WATCH_MS / 60_000} minutes is given up`, async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    // A session closed idle ends its watches too: this one stays open longer than the watch.
    const { s, sent, answer } = session(20, 2 * LATE_WATCH_MS);
    const heard: (boolean | undefined)[] = [];
    const call = s.call('resources/subscribe', { uri: 'a://1' }, (ok) => heard.push(ok));
    t.mock.timers.tick(20);
    await assert.rejects(call, timedOut);
    t.mock.timers.tick(LATE_WATCH_MS - 1);
    assert.deepEqual(heard, []);
    t.mock.timers.tick(1);
    assert.deepEqual(heard, [undefined]);
    answer(sent[0]!.id, { result: {} });
    assert.deepEqual(heard, [undefined]);
  });
});
