import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/errors.js';
import { optionsForStore, resolveReplayOptions } from '../../src/load/options.js';

test('defaults: trace replay against the embedded splitwise-hh backend, completions with token ids', () => {
  const o = resolveReplayOptions({ trace: 'coding' }, {});
  assert.deepEqual(o.shape, { kind: 'trace' });
  assert.equal(o.url, undefined);
  assert.equal(o.deployment, 'splitwise-hh');
  assert.equal(o.timeScale, 1);
  assert.equal(o.endpoint, 'completions');
  assert.equal(o.prompt, 'tokens');
  assert.equal(o.graceS, 10);
  assert.ok(Object.isFrozen(o));
  // With --url nothing is started, and no deployment is assumed.
  assert.equal(resolveReplayOptions({ trace: 'coding', url: 'http://127.0.0.1:8000' }, {}).deployment, undefined);
  assert.equal(resolveReplayOptions({ trace: 'coding', endpoint: 'chat' }, {}).prompt, 'text');
});

test('every problem is reported at once, each with its flag', () => {
  try {
    resolveReplayOptions({ trace: 'x', timeScale: 0, rate: -2, warmup: -1, header: ['nocolon'], maxErrorRate: 2, arrivals: 'zipf', timeoutTotal: -1 }, {});
    assert.fail('should throw');
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    for (const flag of ['--time-scale', '--rate', '--warmup', '--header', '--max-error-rate', '--arrivals', '--timeout-total'])
      assert.ok(e.message.includes(flag), `${flag} in ${e.message}`);
  }
});

test('cross-flag rules: rate needs a bound, rate and concurrency exclude each other, chat takes text', () => {
  assert.throws(() => resolveReplayOptions({ trace: 'x', rate: 5 }, {}), /--duration S or --max-requests/);
  assert.throws(() => resolveReplayOptions({ trace: 'x', rate: 5, concurrency: 2, duration: 1 }, {}), /give one/);
  assert.throws(() => resolveReplayOptions({ trace: 'x', endpoint: 'chat', prompt: 'tokens' }, {}), /chat endpoint takes text/);
  assert.throws(() => resolveReplayOptions({ trace: 'x', warmup: 10, duration: 5 }, {}), /--warmup/);
  assert.throws(() => resolveReplayOptions({ trace: 'x', timeScale: [1, 2] }, {}), /--time-scale: given 2 times/);
  const o = resolveReplayOptions({ trace: 'x', rate: 5, arrivals: 'gamma:2', maxRequests: 10 }, {});
  assert.deepEqual(o.shape, { kind: 'rate', rate: 5, arrivals: 'gamma:2' });
});

test('API key from the environment unless given; secrets never reach the stored options', () => {
  const o = resolveReplayOptions({ trace: 'x', header: ['Authorization: Bearer abc', 'X-Team: perf'] }, { SPLITBENCH_API_KEY: 'k1' });
  assert.equal(o.apiKey, 'k1');
  assert.equal(resolveReplayOptions({ trace: 'x', apiKey: 'k2' }, { SPLITBENCH_API_KEY: 'k1' }).apiKey, 'k2');
  const stored = JSON.stringify(optionsForStore(o));
  assert.doesNotMatch(stored, /k1|abc/);
  assert.match(stored, /perf/);
});
