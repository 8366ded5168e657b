/**
 * Every message in src/ that names a `splitbench …` command (hints above all: "list runs with `splitbench
 * runs list`") names one that exists: the test extracts each backquoted `splitbench WORDS --flags` from the
 * sources (comments left out), runs `splitbench WORDS --help`, and checks that it exits 0, that WORDS is a
 * command one can run (not a group that still wants a subcommand), and that its help lists every --flag named.
 * A `${placeholder}` in a command's words (a flag's value can be anything) names the commands it can stand for in PLACEHOLDERS; a new one fails here
 * until it is listed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { runCli } from './helpers.js';

/** What each template placeholder in a named command can be (read from the call sites). */
const PLACEHOLDERS: Record<string, readonly string[]> = {
  '${command}': ['sim', 'sweep', 'provision', 'experiment'], // src/sim/options.ts throwIfAny(command)
  '${p.kind}': ['sweep'], // src/scale/plan.ts: the plan kinds that exist
};

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sources(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

/** Each backquoted `splitbench …` in code (not comments), with where it is. */
export function namedCommands(): { text: string; where: string }[] {
  const out: { text: string; where: string }[] = [];
  for (const file of sources(path.join(PACKAGE_ROOT, 'src'))) {
    const lines = readFileSync(file, 'utf8').split('\n');
    lines.forEach((line, i) => {
      const code = line.trimStart();
      if (code.startsWith('//') || code.startsWith('*') || code.startsWith('/*')) return;
      // Escaped (\`) inside a template literal, or backquoted inside a '…' or "…" string; a template that
      // itself starts with `splitbench serve: …` is a log line, not a named command.
      for (const m of line.matchAll(/\\`splitbench ([^`\\]*)\\`/g)) out.push({ text: m[1]!, where: `${path.relative(PACKAGE_ROOT, file)}:${i + 1}` });
      for (const m of line.replace(/\\`/g, '  ').matchAll(/`splitbench ([^`]*)`/g)) {
        const before = line.slice(0, m.index);
        const quoted = (before.split("'").length - 1) % 2 === 1 || (before.split('"').length - 1) % 2 === 1;
        if (quoted) out.push({ text: m[1]!, where: `${path.relative(PACKAGE_ROOT, file)}:${i + 1}` });
      }
    });
  }
  return out;
}

function expand(text: string): string[] {
  const ph = /\$\{[^}]+\}/.exec(text);
  if (!ph) return [text];
  // After the first flag, a placeholder is a flag's value: any value does for --help.
  const firstFlag = text.search(/(^|\s)-/);
  if (firstFlag >= 0 && ph.index > firstFlag) return expand(text.replace(ph[0], 'VALUE'));
  // Past the first word, a placeholder not listed is a positional value (a run id…).
  if (PLACEHOLDERS[ph[0]] === undefined && ph.index > 0) return expand(text.replace(ph[0], '1'));
  const values = PLACEHOLDERS[ph[0]];
  assert.ok(values, `unknown placeholder ${ph[0]} in \`splitbench ${text}\`: list what it can be in PLACEHOLDERS`);
  return values.flatMap((v) => expand(text.replace(ph[0], v)));
}

test('every `splitbench …` command named in a message exists, with the flags it names', { timeout: 300_000 }, async () => {
  const named = namedCommands();
  assert.ok(named.length >= 15, `found ${named.length} named commands; the extraction broke`);
  const helpOf = new Map<string, Promise<{ code: number | null; stdout: string; stderr: string }>>();
  const problems: string[] = [];
  for (const { text, where } of named) {
    for (const cmd of expand(text)) {
      const tokens = cmd.split(/\s+/).filter(Boolean);
      const words: string[] = [];
      const positionals: string[] = [];
      for (const t of tokens) {
        if (t.startsWith('-')) break;
        if (/^\d+$/.test(t) || t === '...') positionals.push(t);
        else if (positionals.length === 0) words.push(t);
      }
      const flags = tokens
        .filter((t) => t.startsWith('--'))
        .map((t) => t.split('=')[0]!)
        .filter((f) => f !== '--help');
      const key = words.join(' ');
      if (!helpOf.has(key)) helpOf.set(key, runCli([...words, '--help']));
      const r = await helpOf.get(key)!;
      if (r.code !== 0) {
        problems.push(`${where}: \`splitbench ${cmd}\`: \`splitbench ${key} --help\` exits ${r.code}: ${r.stderr.trim().split('\n')[0]}`);
        continue;
      }
      // A group (runs, model, trace…) lists its subcommands under "Commands:"; on its own it exits 2.
      if (words.length > 0 && /^Commands:/m.test(r.stdout)) {
        problems.push(`${where}: \`splitbench ${cmd}\`: \`splitbench ${key}\` is a group of commands; name one`);
      }
      // A positional (`runs show 1`) must be one the command declares (its usage line names <x> or [x]).
      const usage = r.stdout.split('\n')[0] ?? '';
      if (positionals.length > 0 && !/[<[]/.test(usage.replace(/^splitbench\s+\S+(\s+\S+)?\s*/, '').replace(/\[options\]/g, ''))) {
        problems.push(`${where}: \`splitbench ${cmd}\`: ${key} takes no positional argument (usage: ${usage.trim()})`);
      }
      for (const f of flags) {
        if (!new RegExp(`(^|\\s|,)${f}(\\s|,|$|=)`, 'm').test(r.stdout)) problems.push(`${where}: \`splitbench ${cmd}\`: ${key} has no ${f}`);
      }
    }
  }
  assert.deepEqual(problems, []);
});
