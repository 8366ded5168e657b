import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { runCli } from './helpers.js';

const version = (JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

/** The subcommands a help text lists (its "Commands:" section), as argument lists. */
function listedCommands(help: string, parent: readonly string[]): string[][] {
  const out: string[][] = [];
  const lines = help.split('\n');
  const start = lines.findIndex((l) => l.trim() === 'Commands:');
  if (start < 0) return out;
  for (const l of lines.slice(start + 1)) {
    if (l.trim() === '') break;
    const m = /^ {2}splitbench ((?:[\w-]+ )*[\w-]+)(?:\s|$)/.exec(l);
    if (!m) continue; // a wrapped description line
    const words = m[1]!.split(' ');
    if (words.length === parent.length + 1 && parent.every((p, i) => words[i] === p)) out.push(words);
  }
  return out;
}

test('--help works on every level of every command', async () => {
  const seen: string[] = [];
  let frontier: string[][] = [[]];
  while (frontier.length > 0) {
    const next: string[][] = [];
    const results = await Promise.all(frontier.map((cmd) => runCli([...cmd, '--help']).then((r) => ({ cmd, r }))));
    for (const { cmd, r } of results) {
      const name = ['splitbench', ...cmd].join(' ');
      assert.equal(r.code, 0, `${name} --help exited ${r.code}: ${r.stderr}`);
      assert.equal(r.stderr, '', `${name} --help wrote to stderr`);
      assert.ok(r.stdout.includes(name), `${name} --help shows its own usage`);
      seen.push(name);
      next.push(...listedCommands(r.stdout, cmd));
    }
    frontier = next;
  }
  assert.ok(seen.includes('splitbench runs'), 'runs is listed');
  for (const sub of ['list', 'show', 'delete', 'export']) assert.ok(seen.includes(`splitbench runs ${sub}`), `runs ${sub} is listed`);
});

test('--version prints the package version', async () => {
  const r = await runCli(['--version']);
  assert.equal(r.code, 0);
  assert.equal(r.stdout.trim(), version);
});

test('no command prints the usage and exits 2', async () => {
  const r = await runCli([]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /splitbench <command>/);
  assert.match(r.stderr, /Commands:/);
  assert.match(r.stderr, /splitbench: name a command/);
  assert.equal(r.stdout, '');
});

test("a missing subcommand prints that command's usage and exits 2", async () => {
  const r = await runCli(['runs']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /splitbench runs list/);
  assert.match(r.stderr, /splitbench: name a runs subcommand/);
});

test('an unknown command is one line and exit 2', async () => {
  const r = await runCli(['frobnicate']);
  assert.equal(r.code, 2);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines[0], 'splitbench: Unknown argument: frobnicate');
  assert.match(lines[1] ?? '', /hint: run with --help/);
  assert.equal(lines.length, 2);
});

test('a misspelt subcommand suggests the right one', async () => {
  const r = await runCli(['runs', 'lsit']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /did you mean list\?/);
});

test('an unknown flag is exit 2 and the command does not run', async () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'splitbench-cli-'));
  try {
    const db = path.join(tmp, 'x.db');
    const r = await runCli(['runs', 'delete', '1', '--db', db, '--bogus']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /Unknown argument: bogus/);
    assert.equal(existsSync(db), false);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('a missing positional and a bad choice are usage errors', async () => {
  const a = await runCli(['runs', 'show']);
  assert.equal(a.code, 2);
  assert.match(a.stderr, /Not enough non-option arguments/);
  assert.match(a.stderr, /splitbench runs show <run>/); // with the command's usage
  const b = await runCli(['runs', 'export', '1', '--format', 'xml']);
  assert.equal(b.code, 2);
  assert.match(b.stderr, /Invalid values:[\s\S]*format/);
});

test('a store error prints message and hint without a stack trace, exit 6', async () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'splitbench-cli-'));
  try {
    const r = await runCli(['runs', 'list', '--db', path.join(tmp, 'none.db')]);
    assert.equal(r.code, 6);
    assert.match(r.stderr, /^splitbench: no results store at .*none\.db\n {2}hint: /);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
