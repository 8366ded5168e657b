import { test } from 'node:test';
import assert from 'node:assert/strict';
import yargs from 'yargs';
import { ConfigError } from '../../src/errors.js';
import { readFlags } from '../../src/flagspec.js';
import { addTraceTransformOptions, TRACE_FLAGS, type TraceFlagOptions, traceOptions } from '../../src/trace/index.js';

/** What a command does with yargs' record: the spec's check (every problem at once), then the trace options. */
const check = (argv: Record<string, unknown>): TraceFlagOptions => traceOptions(readFlags('trace', TRACE_FLAGS, argv));

async function parse(args: string[]): Promise<Record<string, unknown>> {
  return addTraceTransformOptions(
    yargs(args)
      .strict()
      .exitProcess(false)
      .fail((msg, err) => {
        throw err ?? new Error(msg);
      }),
  ).parseAsync() as Promise<Record<string, unknown>>;
}

test('flags parse into TraceTransforms', async () => {
  const argv = await parse(['--window', '60:120', '--speedup', '2', '--limit', '10', '--sample', '0.5', '--seed', '3', '--format', 'Azure', '--lenient']);
  assert.deepEqual(check(argv), { transforms: { window: [60, 120], speedup: 2, limit: 10, sample: 0.5, seed: 3 }, format: 'azure', lenient: true });
  assert.deepEqual(check(await parse(['--window', '30:'])).transforms, { window: [30, Infinity] });
  assert.deepEqual(check(await parse([])), { transforms: {}, format: undefined, lenient: false });
});

test('bad values: a ConfigError naming the flag', async () => {
  const bad: [string[], string, RegExp][] = [
    [['--window', '5'], '--window', /START:END/],
    [['--window', 'a:b'], '--window', /START:END/],
    [['--window', '10:5'], '--window', /greater/],
    [['--window=-1:5'], '--window', />= 0/],
    [['--speedup', '0'], '--speedup', /> 0/],
    [['--speedup', 'fast'], '--speedup', /number/],
    [['--limit', '2.5'], '--limit', /positive integer/],
    [['--sample', '1.5'], '--sample', /fraction/],
    [['--sample', '0'], '--sample', /fraction/],
    [['--seed', '-1'], '--seed', /non-negative/],
  ];
  for (const [args, flag, re] of bad) {
    const argv = await parse(args);
    assert.throws(
      () => check(argv),
      (e: unknown) => e instanceof ConfigError && e.path === flag && re.test(e.message),
      args.join(' '),
    );
  }
  const argv = await parse(['--format', 'csv']);
  assert.throws(
    () => check(argv),
    (e: unknown) => e instanceof ConfigError && e.path === '--format' && /known: azure, mooncake, splitwise/.test(e.message),
  );
});
