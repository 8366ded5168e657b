/**
 * The tables of the docs against the code: docs/exit-codes.md lists exactly the codes of `ExitCode`
 * (src/errors.ts, their one source; `--help` prints them from it), and README's command table lists
 * exactly the commands of the registry (src/cli/commands.ts), in its order, each group with exactly the
 * subcommands (or launcher choices) its `--help` shows.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { ExitCode, EXIT_CODE_SUMMARY } from '../../src/errors.js';
import { commandLoaders, loadCommands } from '../../src/cli/commands.js';
import { runCli } from './helpers.js';

/** The first cells of a Markdown table's body rows that follow the header line `header`. */
function firstColumn(file: string, header: RegExp): string[] {
  const lines = readFileSync(path.join(PACKAGE_ROOT, file), 'utf8').split('\n');
  const at = lines.findIndex((l) => header.test(l));
  assert.ok(at >= 0, `${file}: no table with header ${header}`);
  const out: string[] = [];
  for (const l of lines.slice(at + 2)) {
    if (!l.startsWith('|')) break;
    out.push(l.split(/(?<!\\)\|/)[1]!.trim());
  }
  return out;
}

test('docs/exit-codes.md lists exactly the exit codes of src/errors.ts, and --help prints them', async () => {
  const documented = firstColumn('docs/exit-codes.md', /^\| code \| meaning \|$/).map(Number);
  const codes = Object.values(ExitCode).sort((a, b) => a - b);
  assert.deepEqual(
    [...documented].sort((a, b) => a - b),
    codes,
  );
  assert.deepEqual(
    documented,
    [...documented].sort((a, b) => a - b),
    'docs/exit-codes.md: codes in ascending order',
  );
  const help = await runCli(['--help']);
  assert.equal(help.code, 0);
  assert.ok(help.stdout.replace(/\s+/g, ' ').includes(EXIT_CODE_SUMMARY), `--help ends with: ${EXIT_CODE_SUMMARY}`);
  for (const c of codes) assert.match(EXIT_CODE_SUMMARY, new RegExp(`\\b${c} `));
});

test("README's command table lists the registry's commands in order, with each group's subcommands", async () => {
  const rows = firstColumn('README.md', /^\| command \| what it does \|/).map((c) => c.replace(/`/g, '').replace(/\\\|/g, '|'));
  const names = (await loadCommands()).map((c) => String(c.command).split(' ')[0]!);
  assert.deepEqual(names, Object.keys(commandLoaders), 'src/cli/commands.ts: each loader loads the command of its name');
  assert.deepEqual(
    rows.map((r) => r.split(' ')[0]),
    names,
    'README.md command table vs src/cli/commands.ts',
  );
  for (const row of rows) {
    const [name, subs] = row.split(' ');
    const help = await runCli([name!, '--help']);
    assert.equal(help.code, 0, `${name} --help`);
    const commandsPart = /^Commands:\n([\s\S]*?)\n\n/m.exec(help.stdout)?.[1] ?? '';
    const listed = [...commandsPart.matchAll(new RegExp(`^ {2}splitbench ${name} (\\S+)`, 'gm'))].map((m) => m[1]!);
    const choices =
      /\[choices: ([^\]]+)\]/
        .exec(/^Positionals:\n([\s\S]*?)\n\n/m.exec(help.stdout)?.[1] ?? '')?.[1]
        ?.match(/"[^"]+"/g)
        ?.map((x) => x.slice(1, -1)) ?? [];
    const has = listed.length > 0 ? listed : choices;
    if (subs === undefined) assert.deepEqual(has, [], `README.md: \`${name}\` has subcommands ${has.join(', ')}; list them`);
    else if (has.length > 0) assert.deepEqual(subs.split('|'), has, `README.md: \`${row}\` vs \`${name} --help\``);
    else assert.match(help.stdout, new RegExp(`\\b${subs}\\b`), `README.md: \`${row}\`: \`${name} --help\` does not name ${subs}`);
  }
});
