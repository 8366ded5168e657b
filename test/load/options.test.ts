// resolveReplayOptions: the rules between replay's flags, given their checked values (the CLI checks the flags
// through the spec first; test/cli/typed-options.test.ts checks that both kinds of problem come out at once).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/errors.js';
import { flagValues, Problems } from '../../src/flagspec.js';
import { optionsForStore, REPLAY_FLAGS, type ReplayFlags, resolveReplayOptions } from '../../src/load/options.js';

const replay = (f: Partial<ReplayFlags>, env: NodeJS.ProcessEnv = {}, problems?: Problems) =>
  resolveReplayOptions(flagValues(REPLAY_FLAGS, { trace: 'coding', ...f }), env, problems);

test('defaults: trace replay against the embedded splitwise-hh backend, completions with token ids', () => {
  const o = replay({});
  assert.deepEqual(o.shape, { kind: 'trace' });
  assert.equal(o.url, undefined);
  assert.equal(o.deployment, 'splitwise-hh');
  assert.equal(o.timeScale, 1);
  assert.equal(o.endpoint, 'completions');
  assert.equal(o.prompt, 'tokens');
  assert.equal(o.graceS, 10);
  assert.deepEqual(o.timeouts, { connectS: 10, firstTokenS: 600, betweenTokensS: 120, totalS: 0 });
  assert.ok(Object.isFrozen(o));
  // With --url nothing is started, and no deployment is assumed (nor the backend's power model).
  const remote = replay({ url: 'http://127.0.0.1:8000/' });
  assert.equal(remote.deployment, undefined);
  assert.deepEqual(remote.telemetry.power, []);
  assert.deepEqual(o.telemetry.power, [{ kind: 'model', text: 'model' }]);
  assert.equal(replay({ endpoint: 'chat' }).prompt, 'text');
  assert.equal(replay({ timeScale: 'auto' }).timeScaleAuto, true);
});

test('every rule between the flags is reported at once, each with its flag, after the problems already found', () => {
  const found = new Problems();
  found.add('--grace', 'must be >= 0, got -1');
  try {
    replay({ rate: 2, arrivals: 'gamma:2', warmup: 5, duration: 3, header: ['nocolon'], tag: ['x'], power: ['none', 'model'] }, {}, found);
    assert.fail('should throw');
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    assert.equal(
      e.message,
      "5 problems: --grace: must be >= 0, got -1; --power: 'none' cannot be combined with sources; --tag: expected KEY=VALUE, got 'x'; " +
        "--header: expected 'Name: value', got 'nocolon'; --warmup: 5 s leaves nothing of --duration 3 s to measure",
    );
  }
});

test('cross-flag rules: rate needs a bound, rate and concurrency exclude each other, chat takes text', () => {
  assert.throws(() => replay({ rate: 5 }), /--rate: needs --duration S or --max-requests N/);
  assert.throws(() => replay({ rate: 5, concurrency: 2, duration: 1 }), /--rate and --concurrency: give one/);
  assert.throws(() => replay({ endpoint: 'chat', prompt: 'tokens' }), /chat endpoint takes text/);
  assert.throws(() => replay({ warmup: 10, duration: 5 }), /--warmup: 10 s leaves nothing/);
  assert.throws(() => replay({ arrivals: 'gamma:2' }), /--arrivals: only applies with --rate/);
  assert.throws(() => replay({ timeScale: 'auto', url: 'http://h:1/' }), /--time-scale auto: calibrates the bundled reference backend/);
  assert.throws(() => replay({ timeScale: 'auto', twin: false }), /drop --no-twin/);
  assert.throws(() => replay({ powerInterval: 5 }), /--power-interval: expected milliseconds from 10 to 600000, got '5'/);
  const o = replay({ rate: 5, arrivals: 'gamma:2', maxRequests: 10 });
  assert.deepEqual(o.shape, { kind: 'rate', rate: 5, arrivals: 'gamma:2' });
  assert.deepEqual(replay({ concurrency: 3 }).shape, { kind: 'closed', concurrency: 3 });
});

test('API key from the environment unless given; secrets never reach the stored options', () => {
  const o = replay({ header: ['Authorization: Bearer abc', 'X-Team: perf'] }, { SPLITBENCH_API_KEY: 'k1' });
  assert.equal(o.apiKey, 'k1');
  assert.deepEqual(o.headers, { authorization: 'Bearer abc', 'x-team': 'perf' });
  assert.equal(replay({ apiKey: 'k2' }, { SPLITBENCH_API_KEY: 'k1' }).apiKey, 'k2');
  const stored = JSON.stringify(optionsForStore(o));
  assert.doesNotMatch(stored, /k1|abc/);
  assert.match(stored, /perf/);
});
