/**
 * Every command example in the README and docs/*.md (lines of code blocks and indented blocks starting `splitbench` or
 * `npx splitbench`) and in `--help` (yargs `.example()` entries in src/cli) names a command that exists, with
 * flags it has and positionals it takes: the parse-level check. The command path is found through the help
 * (a group's help lists "Commands:"; the next word is then its subcommand); the command must be a leaf, every
 * `--flag` must be in its help, and words after it before the first flag need a positional in its usage line.
 * Shell around a command (comments, `&`, pipes, redirections, `[optional]` brackets) is dropped.
 * What this does not do: run the examples (many need a server, Slurm, Kubernetes, a GPU or minutes of load).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { runCli, type CliResult } from './helpers.js';

interface Example {
  readonly cmd: string;
  readonly where: string;
}

/** The command part of a shell line: no comment, background, pipe or redirection; brackets of optional parts dropped. */
function commandOf(line: string): string {
  let s = line.replace(/^npx\s+/, '').replace(/^splitbench\s+/, '');
  s = s.replace(/\s+#.*$/, '').replace(/\s*\\$/, '');
  s = s.split(/\s(?:\||&|>|&&)\s?/)[0]!.replace(/\s&$/, '');
  return s.replace(/[[\]]/g, ' ').trim();
}

/** The documentation files: README.md and every docs/*.md, as paths relative to the package root. */
export function docFiles(): string[] {
  const docs = readdirSync(path.join(PACKAGE_ROOT, 'docs')).filter((f) => f.endsWith('.md')).sort();
  return ['README.md', ...docs.map((f) => `docs/${f}`)];
}

export function readmeExamples(): Example[] {
  const out: Example[] = [];
  for (const file of docFiles()) {
  const lines = readFileSync(path.join(PACKAGE_ROOT, file), 'utf8').split('\n');
  let fence = false;
  lines.forEach((l, i) => {
    if (/^\s*```/.test(l)) {
      fence = !fence;
      return;
    }
    const t = l.trim();
    if ((fence || l.startsWith('    ')) && /^(npx\s+)?splitbench\s/.test(t)) out.push({ cmd: commandOf(t), where: `${file}:${i + 1}` });
  });
  }
  return out;
}

export function helpExamples(): Example[] {
  const out: Example[] = [];
  const dir = path.join(PACKAGE_ROOT, 'src', 'cli');
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.ts'))) {
    const text = readFileSync(path.join(dir, f), 'utf8');
    for (const m of text.matchAll(/\.example\(\s*(['"`])\$0 ((?:(?!\1).)*)\1/g)) {
      const line = text.slice(0, m.index).split('\n').length;
      out.push({ cmd: commandOf(m[2]!.replace(/\\(["'])/g, '$1')), where: `src/cli/${f}:${line}` });
    }
  }
  return out;
}

/** Split a command line into words, keeping quoted parts together. */
function words(cmd: string): string[] {
  return [...cmd.matchAll(/"[^"]*"|'[^']*'|\S+/g)].map((m) => m[0]);
}

test('README, docs/ and --help examples name real commands, flags and positionals', { timeout: 300_000 }, async () => {
  const examples = [...readmeExamples(), ...helpExamples()];
  assert.ok(readmeExamples().length >= 40, `README examples found: ${readmeExamples().length}`);
  assert.ok(helpExamples().length >= 40, `--help examples found: ${helpExamples().length}`);
  const cache = new Map<string, Promise<CliResult>>();
  const help = (p: readonly string[]): Promise<CliResult> => {
    const k = p.join(' ');
    if (!cache.has(k)) cache.set(k, runCli([...p, '--help']));
    return cache.get(k)!;
  };
  const problems: string[] = [];
  for (const { cmd, where } of examples) {
    const w = words(cmd);
    const firstFlag = w.findIndex((x) => x.startsWith('-'));
    const head = firstFlag < 0 ? w : w.slice(0, firstFlag);
    const cmdPath: string[] = [];
    let r: CliResult | undefined;
    for (const word of head) {
      if (cmdPath.length > 0 && !/^Commands:/m.test(r!.stdout)) break;
      cmdPath.push(word);
      r = await help(cmdPath);
      if (r.code !== 0) break;
    }
    if (r?.code !== 0) {
      problems.push(`${where}: \`splitbench ${cmd}\`: \`splitbench ${cmdPath.join(' ')} --help\` exits ${r?.code}: ${r?.stderr.trim().split('\n')[0]}`);
      continue;
    }
    if (/^Commands:/m.test(r.stdout)) problems.push(`${where}: \`splitbench ${cmd}\`: \`splitbench ${cmdPath.join(' ')}\` is a group of commands; name one`);
    const positionals = head.slice(cmdPath.length);
    const usage = (r.stdout.split('\n')[0] ?? '').replace(/^splitbench/, '').replace(/\[options\]/g, '');
    const params = usage.split(/\s+/).filter((x) => /^[<[]/.test(x));
    const declared = params.some((x) => /\.\.[>\]]$/.test(x)) ? Infinity : params.length; // <shards..>: any number
    if (positionals.length > declared) problems.push(`${where}: \`splitbench ${cmd}\`: ${positionals.join(' ')}: \`${cmdPath.join(' ')}\` takes ${declared} positional argument(s) (usage:${usage})`);
    for (const f of w.filter((x) => x.startsWith('--')).map((x) => x.split('=')[0]!)) {
      if (f === '--help' || f === '--version' || f === '--') continue;
      if (!new RegExp(`(^|\\s|,)${f}(\\s|,|$|=)`, 'm').test(r.stdout)) problems.push(`${where}: \`splitbench ${cmd}\`: \`${cmdPath.join(' ')}\` has no ${f}`);
    }
  }
  assert.deepEqual(problems, []);
});
