/**
 * Regression: SLO files accepted limits no metric can take (`ttft.p99 <= -5ms`, `error_rate <= 150%`).
 * They are refused with the file, the line and the rule.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSlo } from '../../src/metrics/slo.js';
import { SloSpecError } from '../../src/errors.js';

function sloError(text: string): SloSpecError {
  try {
    parseSlo(text, 'my.yaml');
  } catch (e) {
    assert.ok(e instanceof SloSpecError, String(e));
    return e;
  }
  throw new Error(`expected an SloSpecError for ${JSON.stringify(text)}`);
}

test('negative limits, fractions past 100% and infinite limits name file, line and rule', () => {
  const cases: [string, RegExp][] = [
    ['rules:\n  - ttft.p99 <= 2s\n  - ttft.p99 <= -5ms\n', /^my\.yaml:3: rule 'ttft\.p99 <= -5ms': limit '-5ms' is negative: a time is never below 0$/],
    ['rules:\n  - error_rate <= 150%\n', /^my\.yaml:2: rule 'error_rate <= 150%': limit '150%' is above 100%/],
    ['rules:\n  - goodput_fraction >= 1.5\n', /^my\.yaml:2: .*above 100%/],
    ['rules:\n  - throughput.requests >= -1\n', /^my\.yaml:2: .*negative: a rate/],
    ['rules:\n  - e2e.p99 <= 1e999s\n', /^my\.yaml:2: .*not a finite number/],
    ['rules:\n  - slowdown.ttft.p90 < -3x\n', /^my\.yaml:2: .*negative: a ratio/],
    ['rules:\n  - e2e.p99 <= baseline * -2\n', /^my\.yaml:2: .*negative/],
    ['rules:\n  - e2e.p99 <= baseline + -5ms\n', /^my\.yaml:2: .*offset '-5ms' must be a finite number ≥ 0/],
    ['per_request:\n  - tpot <= -100ms\nrules:\n  - goodput >= 1\n', /^my\.yaml:2: rule 'tpot <= -100ms': limit '-100ms' is negative/],
  ];
  for (const [text, re] of cases) assert.match(sloError(text).message, re, text);
});

test('the edges are accepted: 0, 100%, a baseline minus an offset', () => {
  const s = parseSlo(
    'per_request:\n  - ttft <= 2s\nrules:\n  - lag.p99 <= 0s\n  - error_rate <= 100%\n  - goodput_fraction >= 0%\n  - e2e.p99 <= baseline - 5ms\n',
    'ok.yaml',
  );
  assert.deepEqual(
    s.rules.map((r) => r.limit),
    [
      { kind: 'value', value: 0 },
      { kind: 'value', value: 1 },
      { kind: 'value', value: 0 },
      { kind: 'baseline', factor: 1, offset: -0.005 },
    ],
  );
});
