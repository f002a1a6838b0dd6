import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  CONTENT_TYPE,
  checkMetricName,
  escapeHelp,
  escapeLabelValue,
  familyHeader,
  formatValue,
  renderLabels,
  sampleLine,
} from './exposition.ts';

describe('exposition format', () => {
  test('values: infinities and NaN as Prometheus spells them, integers without an exponent', () => {
    assert.equal(formatValue(Number.POSITIVE_INFINITY), '+Inf');
    assert.equal(formatValue(Number.NEGATIVE_INFINITY), '-Inf');
    assert.equal(formatValue(Number.NaN), 'NaN');
    assert.equal(formatValue(0), '0');
    assert.equal(formatValue(-0), '0');
    assert.equal(formatValue(42), '42');
    assert.equal(formatValue(-7), '-7');
    assert.equal(formatValue(0.00025), '0.00025');
    assert.equal(formatValue(1.5e-7), '1.5e-7');
    assert.equal(formatValue(2 ** 53), '9007199254740992');
    assert.equal(formatValue(1e21), '1000000000000000000000');
    assert.equal(formatValue(-1e22), '-10000000000000000000000');
    // Every double from 2^53 up is an integer: written out in full, it still reads back the same.
    assert.match(formatValue(1.5e300), /^15\d{299}$/);
    assert.equal(Number(formatValue(1.5e300)), 1.5e300);
  });

  test('label values escape backslash, double quote and line feed, and nothing else', () => {
    assert.equal(escapeLabelValue('plain/value-1'), 'plain/value-1');
    assert.equal(escapeLabelValue('a\\b'), 'a\\\\b');
    assert.equal(escapeLabelValue('say "hi"'), 'say \\"hi\\"');
    assert.equal(escapeLabelValue('two\nlines'), 'two\\nlines');
    assert.equal(escapeLabelValue('tab\tand\rcr'), 'tab\tand\rcr');
    assert.equal(escapeLabelValue('é ✓'), 'é ✓');
  });

  test('help texts escape backslash and line feed, not double quotes', () => {
    assert.equal(escapeHelp('Time "spent".'), 'Time "spent".');
    assert.equal(escapeHelp('C:\\path\nnext'), 'C:\\\\path\\nnext');
  });

  test('labels, sample lines and headers', () => {
    assert.equal(renderLabels([], []), '');
    assert.equal(renderLabels(['a', 'b'], ['1', 'x"y']), 'a="1",b="x\\"y"');
    assert.equal(sampleLine('up', '', 1), 'up 1\n');
    assert.equal(sampleLine('up', 'a="1"', Number.NaN), 'up{a="1"} NaN\n');
    assert.equal(familyHeader('up', 'Is it\nup?', 'gauge'), '# HELP up Is it\\nup?\n# TYPE up gauge\n');
    assert.equal(CONTENT_TYPE, 'text/plain; version=0.0.4; charset=utf-8');
  });

  test('metric names are checked', () => {
    for (const ok of ['up', 'a_b:c', '_x', 'x9']) checkMetricName(ok);
    for (const bad of ['', '9x', 'a-b', 'a b', 'é'])
      assert.throws(() => checkMetricName(bad), TypeError, bad);
  });
});
