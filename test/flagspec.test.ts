import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import type yargsFactory from 'yargs';
import { ConfigError, ExitCode } from '../src/errors.js';
import { addFlags, flagGroup, flagValues, parseFlags, Problems, readFlags } from '../src/flagspec.js';
import { runCli } from './cli/helpers.js';

const yargs = createRequire(import.meta.url)('yargs') as typeof yargsFactory;

const SPEC = flagGroup('Load:', {
  rate: { type: 'number', positive: true, describe: 'requests per second' },
  grace: { type: 'number', min: 0, default: 10, describe: 'seconds to finish' },
  'max-requests': { type: 'number', integer: true, min: 1, describe: 'at most N requests' },
  mode: { type: 'string', choices: ['fast', 'slow'], default: 'fast', describe: 'how' },
  name: { type: 'string', pattern: [/^[a-z]+$/, 'lower-case letters'], describe: 'a name' },
  tag: { type: 'string', array: true, describe: 'labels' },
  window: { type: 'string', describe: 'START:END', parse: (s: string): number => Number(s.split(':')[1]) },
  twin: { type: 'boolean', default: true, describe: 'check' },
});

test('the help shows each default, generated from the spec', async () => {
  const help = await addFlags(yargs([]).wrap(200), SPEC).getHelp();
  assert.match(help, /--grace\s+seconds to finish\s+\[number\] \[default: 10\]/);
  assert.match(help, /--mode\s+how\s+\[string\] \[choices: "fast", "slow"\] \[default: "?fast"?\]/);
  assert.match(help, /--twin\s+check\s+\[boolean\] \[default: true\]/);
  assert.match(help, /^Load:$/m);
  assert.doesNotMatch(help, /--rate.*default/);
});

test('defaults apply, values are typed and frozen', () => {
  const v = readFlags('x', SPEC, { rate: 2.5, maxRequests: '7', tag: 'a', window: '0:60' });
  assert.deepEqual({ ...v }, { rate: 2.5, grace: 10, maxRequests: 7, mode: 'fast', name: undefined, tag: ['a'], window: 60, twin: true });
  assert.ok(Object.isFrozen(v));
  assert.ok(Object.isFrozen(v.tag));
  // The types follow the spec: a default makes the value always there.
  const grace: number = v.grace;
  const rate: number | undefined = v.rate;
  const mode: 'fast' | 'slow' = v.mode;
  assert.equal(grace + (rate ?? 0) + mode.length, 16.5);
});

test('every problem is reported at once, each naming its flag; exit code 2', () => {
  try {
    readFlags('x', SPEC, { rate: 0, grace: -1, maxRequests: 2.5, mode: 'medium', name: 'A1', twin: 'yes', window: [1, 2] });
    assert.fail('should throw');
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    assert.equal(e.exitCode, ExitCode.usage);
    assert.match(e.message, /^7 problems: /);
    for (const part of [
      '--rate: must be > 0, got 0',
      '--grace: must be >= 0, got -1',
      '--max-requests: must be a positive integer, got 2.5',
      "--mode: expected one of fast, slow, got 'medium'",
      "--name: expected lower-case letters, got 'A1'",
      '--twin: expected true or false',
      '--window: given 2 times; give it once',
    ])
      assert.ok(e.message.includes(part), `${part} in ${e.message}`);
  }
});

test('one problem: the error names the flag as its path; cross-flag problems join the same list', () => {
  assert.throws(
    () => readFlags('x', SPEC, { rate: 'fast' }),
    (e: unknown) => e instanceof ConfigError && e.path === '--rate' && e.message === "--rate: expected a number, got 'fast'",
  );
  const p = new Problems();
  const v = parseFlags(SPEC, { grace: -3, window: '0:oops' }, p);
  assert.equal(v.grace, 10, 'a bad flag counts as not given');
  p.try(() => {
    throw new ConfigError('not with --twin', { path: '--rate' });
  });
  assert.deepEqual(p.list, ['--grace: must be >= 0, got -3', '--rate: not with --twin']);
});

test('a parse function that throws is a problem of its flag', () => {
  const spec = {
    size: {
      type: 'string',
      describe: 'N',
      parse: (s: string): number => {
        if (!/^\d+$/.test(s)) throw new Error(`not a size: '${s}'`);
        return Number(s);
      },
    },
  } as const;
  const n: number | undefined = readFlags('x', spec, { size: '12' }).size;
  assert.equal(n, 12);
  assert.throws(
    () => readFlags('x', spec, { size: 'big' }),
    (e: unknown) => e instanceof ConfigError && e.message === "--size: not a size: 'big'",
  );
});

test('the commands show generated defaults and report all bad flags at once', async () => {
  const help = await runCli(['sim', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--deployment.*\[default: splitwise-hh\]/);
  assert.match(help.stdout, /--sample-interval.*\[default: 1\]/);
  const replay = await runCli(['replay', '--help']);
  assert.match(replay.stdout, /--timeout-first-token[\s\S]*?\[default: 600\]/);
  assert.doesNotMatch(replay.stdout, /\(default /, 'no default typed into a description by hand');
  const bad = await runCli(['sim', '--trace', 'coding', '--rate', '0', '--max-requests', '1.5', '--warmup=-1', '--limit', '0']);
  assert.equal(bad.code, ExitCode.usage);
  for (const flag of ['--rate', '--max-requests', '--warmup', '--limit']) assert.match(bad.stderr, new RegExp(`${flag}: `));
  assert.match(bad.stderr, /4 problems/);
  assert.doesNotMatch(bad.stderr, /\n\s+at /, 'no stack trace');
  const sessions = await runCli(['sim', '--trace', 'coding', '--sessions', '--rate', '2', '--duration', '5']);
  assert.equal(sessions.code, ExitCode.usage);
  assert.match(sessions.stderr, /--sessions: not with --rate/);
});

test("flagValues: a library caller's typed values with the spec's defaults, frozen, not checked again", () => {
  const v = flagValues(SPEC, { rate: 3, tag: ['a', 'b'] });
  assert.deepEqual({ ...v }, { rate: 3, grace: 10, maxRequests: undefined, mode: 'fast', name: undefined, tag: ['a', 'b'], window: undefined, twin: true });
  assert.ok(Object.isFrozen(v));
  // The same values parseFlags gives for the command line that says so.
  assert.deepEqual({ ...v }, { ...readFlags('x', SPEC, { rate: '3', tag: ['a', 'b'] }) });
});

test('Problems: flagged says a flag was given with a bad value; a positional is listed first', () => {
  const p = new Problems();
  const v = parseFlags(SPEC, { rate: -1, grace: 2 }, p);
  assert.equal(v.rate, undefined);
  assert.ok(p.flagged('--rate'));
  assert.ok(!p.flagged('--grace'));
  assert.ok(!p.flagged('--max-requests'));
  p.addFirst('NAME', "unknown 'x'");
  assert.deepEqual(p.list, ["NAME: unknown 'x'", '--rate: must be > 0, got -1']);
});
