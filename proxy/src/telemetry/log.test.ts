import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { describe, test } from 'node:test';
import { createLog } from './log.ts';

function capture(level: Parameters<typeof createLog>[0], bindings: Record<string, unknown> = {}) {
  const lines: string[] = [];
  const log = createLog(level, bindings, (line) => lines.push(line));
  const records = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  return { log, lines, records };
}

describe('log', () => {
  test('one JSON line per event, in the shape pino writes', () => {
    const { log, lines, records } = capture('info', { server: 'github', node: 'github-0' });
    const before = Date.now();
    log('warn', 'mesh stream ended', { code: 'unavailable', attempt: 2 });
    assert.equal(lines.length, 1);
    assert.ok(lines[0]!.endsWith('}\n'));
    assert.equal(lines[0]!.indexOf('\n'), lines[0]!.length - 1);
    const [r] = records();
    assert.deepEqual(Object.keys(r!), [
      'level',
      'time',
      'pid',
      'hostname',
      'component',
      'server',
      'node',
      'code',
      'attempt',
      'msg',
    ]);
    assert.equal(r!.level, 40);
    assert.ok((r!.time as number) >= before && (r!.time as number) <= Date.now());
    assert.equal(r!.pid, process.pid);
    assert.equal(r!.hostname, hostname());
    assert.equal(r!.component, 'proxy');
    assert.equal(r!.msg, 'mesh stream ended');
  });

  test('events below the level are not written', () => {
    const { log, records } = capture('warn');
    log('debug', 'a');
    log('info', 'b');
    log('warn', 'c');
    log('error', 'd');
    assert.deepEqual(
      records().map((r) => [r.level, r.msg]),
      [
        [40, 'c'],
        [50, 'd'],
      ],
    );
    const all = capture('debug');
    all.log('debug', 'e');
    assert.equal(all.records()[0]!.level, 20);
  });

  test('a field cannot pass for the level, the time or the message', () => {
    const { log, records } = capture('info');
    log('info', 'real', { level: 60, time: 0, msg: 'forged' });
    const [r] = records();
    assert.equal(r!.level, 30);
    assert.notEqual(r!.time, 0);
    assert.equal(r!.msg, 'real');
  });

  test('a message or field with newlines and quotes stays on one line', () => {
    const { log, lines, records } = capture('info');
    log('info', 'line one\nline "two"', { stderr: 'a\r\nb' });
    assert.equal(lines[0]!.split('\n').length, 2);
    assert.equal(records()[0]!.msg, 'line one\nline "two"');
    assert.equal(records()[0]!.stderr, 'a\r\nb');
  });

  test('what JSON cannot hold is still logged: bigints, errors, circular fields', () => {
    const { log, records } = capture('info');
    log('info', 'big', { n: 2n ** 70n, err: new TypeError('boom') });
    const circular: Record<string, unknown> = { a: 1 };
    circular.self = circular;
    log('error', 'loop', { circular });
    const [big, loop] = records();
    assert.equal(big!.n, '1180591620717411303424');
    assert.deepEqual((big!.err as { type: string; message: string }).type, 'TypeError');
    assert.equal((big!.err as { message: string }).message, 'boom');
    assert.equal(loop!.msg, 'loop');
    assert.equal(loop!.level, 50);
    assert.equal(loop!.circular, undefined);
    assert.match(loop!.logError as string, /not serialisable/);
  });

  test('by default lines go to stderr, and stdout stays empty', () => {
    const script = `import { createLog } from ${JSON.stringify(new URL('./log.ts', import.meta.url).href)};
      createLog('info', { server: 's' })('info', 'hello', { k: 1 });`;
    const out = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(out.status, 0, out.stderr);
    assert.equal(out.stdout, '');
    const r = JSON.parse(out.stderr) as Record<string, unknown>;
    assert.equal(r.msg, 'hello');
    assert.equal(r.server, 's');
    assert.equal(r.k, 1);
  });
});
