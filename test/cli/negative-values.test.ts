/**
 * Regression: `--window -5:10` said "Unknown argument: 5" (yargs read the value as short flags). A
 * negative value after a long flag is now that flag's value, so its own check names the problem.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { runCli } from './helpers.js';

test('a negative number or range after a long flag is joined to it; flags, `=` forms and what follows `--` are left alone', async () => {
  const { joinNegativeValues } = await import('../../src/cli/main.js');
  assert.deepEqual(joinNegativeValues(['sim', '--window', '-5:10', '--rate', '-0.5', '--x', '-.5']), ['sim', '--window=-5:10', '--rate=-0.5', '--x=-.5']);
  assert.deepEqual(joinNegativeValues(['--window=-5:10', '--json', '-h']), ['--window=-5:10', '--json', '-h']);
  assert.deepEqual(joinNegativeValues(['launch', '--', 'replay', '--window', '-5:10']), ['launch', '--', 'replay', '--window', '-5:10']);
});

for (const form of [['--window', '-5:10'], ['--window=-5:10']]) {
  test(`sim ${form.join(' ')}: exit 2 naming --window and the negative start`, async () => {
    const r = await runCli(['sim', '--trace', 'conversation', ...form, '--db', path.join(os.tmpdir(), 'sb-never-written.db')]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--window: START must be >= 0 \(seconds from the trace's start\), got -5 in '-5:10'/);
    assert.doesNotMatch(r.stderr, /Unknown argument/);
  });
}
