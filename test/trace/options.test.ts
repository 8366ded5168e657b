import { test } from 'node:test';
import assert from 'node:assert/strict';
import yargs from 'yargs';
import { ConfigError } from '../../src/errors.js';
import { addTraceTransformOptions, parseTraceOpenOptions, parseTraceTransforms } from '../../src/trace/index.js';

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
  assert.deepEqual(parseTraceTransforms(argv), { window: [60, 120], speedup: 2, limit: 10, sample: 0.5, seed: 3 });
  assert.deepEqual(parseTraceOpenOptions(argv), { format: 'azure', lenient: true });
  assert.deepEqual(parseTraceTransforms(await parse(['--window', '30:'])), { window: [30, Infinity] });
  assert.deepEqual(parseTraceTransforms(await parse([])), {});
  assert.deepEqual(parseTraceOpenOptions(await parse([])), { lenient: false });
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
      () => parseTraceTransforms(argv),
      (e: unknown) => e instanceof ConfigError && e.path === flag && re.test(e.message),
      args.join(' '),
    );
  }
  const argv = await parse(['--format', 'csv']);
  assert.throws(
    () => parseTraceOpenOptions(argv),
    (e: unknown) => e instanceof ConfigError && e.path === '--format' && /known: azure, mooncake, splitwise/.test(e.message),
  );
});
