/** Reading a command's `--json` output in tests: the shared envelope `{ splitbench, command, result }`. */
import assert from 'node:assert/strict';
import { VERSION } from '../src/version.js';

/** Parse stdout as a `--json` envelope, check it (and its command, when given), return its `result`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function jsonResult<T = any>(stdout: string, command?: string): T {
  const env = JSON.parse(stdout) as { splitbench?: unknown; command?: unknown; result?: unknown };
  assert.equal(typeof env, 'object', 'a --json output is an object');
  assert.equal(env.splitbench, VERSION, 'the envelope names the splitbench version');
  assert.equal(typeof env.command, 'string', 'the envelope names its command');
  if (command !== undefined) assert.equal(env.command, command);
  assert.ok('result' in env, 'the envelope has a result');
  return env.result as T;
}
