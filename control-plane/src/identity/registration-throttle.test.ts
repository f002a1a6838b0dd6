import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRegistrationThrottle } from './registration-throttle.ts';

function clock() {
  let t = 0;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

const HOUR = 3_600_000;

test('an address gets its registrations per hour, then a retry time, then a new hour', () => {
  const c = clock();
  const th = createRegistrationThrottle({ perAddressPerHour: 2, perHour: 100 }, c.now);
  assert.deepEqual(th.admit('10.0.0.1'), { admitted: true });
  c.advance(1000);
  assert.deepEqual(th.admit('10.0.0.1'), { admitted: true });
  assert.deepEqual(th.admit('10.0.0.1'), { admitted: false, retryAfterSeconds: 3599, limit: 'address' });
  assert.deepEqual(th.admit('10.0.0.2'), { admitted: true }, 'other addresses are not affected');
  c.advance(HOUR - 1500); // 500 ms of the window left: rounded up
  assert.deepEqual(th.admit('10.0.0.1'), { admitted: false, retryAfterSeconds: 1, limit: 'address' });
  c.advance(500);
  assert.deepEqual(th.admit('10.0.0.1'), { admitted: true });
});

test('the replica-wide limit holds across addresses, and refused attempts are not counted', () => {
  const c = clock();
  const th = createRegistrationThrottle({ perAddressPerHour: 5, perHour: 3 }, c.now);
  for (const a of ['1.1.1.1', '2.2.2.2', '3.3.3.3']) assert.ok(th.admit(a).admitted);
  for (let i = 0; i < 10; i++) {
    const v = th.admit(`9.9.9.${i}`);
    assert.equal(v.admitted, false);
    assert.equal(v.admitted === false && v.limit, 'replica');
  }
  c.advance(HOUR);
  assert.ok(th.admit('9.9.9.0').admitted);
  assert.ok(th.admit('9.9.9.0').admitted, 'the refusals before did not count against the address');
});

test('a flood of addresses cannot reset the replica-wide count', () => {
  const th = createRegistrationThrottle({ perAddressPerHour: 1, perHour: 20_000 }, clock().now);
  for (let i = 0; i < 20_000; i++) assert.ok(th.admit(`a${i}`).admitted);
  assert.equal(th.admit('fresh').admitted, false);
});
