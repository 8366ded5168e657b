/**
 * Every command example in the README and docs/*.md (lines of code blocks and indented blocks starting `splitbench` or
 * `npx splitbench`) and in `--help` (the examples of the commands in src/cli) names a command that exists, with
 * flags it has and positionals it takes: the parse-level check. The command path is found through the help
 * (a group's help lists "Commands:"; the next word is then its subcommand); the command must be a leaf, every
 * `--flag` must be in its help, and words after it before the first flag need a positional in its usage line.
 * Shell around a command (comments, `&`, pipes, redirections, `[optional]` brackets) is dropped; a line
 * continued with `\` is joined. The second test then runs every example (see "Running the examples" below).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { BIN, runCli, type CliResult } from './helpers.js';

interface Example {
  readonly cmd: string;
  readonly where: string;
}

/** The command part of a shell line: no comment, background, pipe or redirection; brackets of optional parts dropped. */
function commandOf(line: string): string {
  let s = line.replace(/^npx\s+/, '').replace(/^splitbench\s+/, '');
  s = s.replace(/\s+#.*$/, '').replace(/\s*\\$/, '');
  s = s.split(/\s(?:\||&|>|&&)\s?/)[0]!.replace(/\s&$/, '');
  // `[--flag V]` (an optional part) loses its brackets; brackets inside a word (`gpu[01-08]`) stay.
  return s.replace(/(^|\s)\[([^\]]*)\]/g, '$1$2').trim();
}

/** The documentation files: README.md and every docs/*.md, as paths relative to the package root. */
export function docFiles(): string[] {
  const docs = readdirSync(path.join(PACKAGE_ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort();
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
      let t = l.trim();
      // A shell line continued with `\` is one command: join its continuation lines.
      for (let j = i; /\s\\$/.test(lines[j] ?? '') && /^(npx\s+)?splitbench\s/.test(t); j++) t = `${t.replace(/\s*\\$/, '')} ${(lines[j + 1] ?? '').trim()}`;
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
    // `.example('$0 …'` and the `examples: [['$0 …', …]]` of a declared command (src/cli/define.ts).
    for (const m of text.matchAll(/(?:\.example\(|\[)\s*(['"`])\$0 ((?:(?!\1).)*)\1/g)) {
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
    if (positionals.length > declared)
      problems.push(
        `${where}: \`splitbench ${cmd}\`: ${positionals.join(' ')}: \`${cmdPath.join(' ')}\` takes ${declared} positional argument(s) (usage:${usage})`,
      );
    for (const f of w.filter((x) => x.startsWith('--')).map((x) => x.split('=')[0]!)) {
      if (f === '--help' || f === '--version' || f === '--') continue;
      if (!new RegExp(`(^|\\s|,)${f}(\\s|,|$|=)`, 'm').test(r.stdout)) problems.push(`${where}: \`splitbench ${cmd}\`: \`${cmdPath.join(' ')}\` has no ${f}`);
    }
  }
  assert.deepEqual(problems, []);
});

/*
 * Running the examples. Each example runs as written against the real CLI (bin/splitbench.js), in a temp
 * folder of its own, after one documented rewrite (docs/examples.md; keep both in step):
 * - time: `--duration S` becomes at most 5; `--window A:B` at most A:A+5; `--limit` and `--max-requests` at
 *   most 20; `--warmup` at most 1; a `replay` or `sim` that reads a recorded trace with none of `--window`, `--duration`, `--limit`,
 *   `--max-requests` gets `--window 0:5`; `sweep` and `provision` without `--duration` get `--duration 5`;
 *   `experiment` gets `--quick` and `--duration 5`;
 * - places: every `http://HOST:PORT` becomes a loopback `serve --deployment splitwise-hh --time-scale 10` that
 *   the test starts on port 0; `--port N` becomes `--port 0` (servers without `--port` get it); `--host
 *   0.0.0.0` becomes `--host 127.0.0.1`; the `--model` of an example with a URL becomes the one that serve
 *   serves (bloom-176b);
 * - servers (`serve`, `time-server`) run until they say `listening on`, then, half a second later, get SIGINT
 *   and must exit 0;
 * - inputs: the folder's store holds runs with every name and id the examples use, and the files they read
 *   exist (made from the bundled traces, deployments and SLO files, with workloads/ linked in; the chunks
 *   of a plan that an example `--collect`s are run first); the placeholders DEP.yaml, NAME and N
 *   stand for a deployment file, a run name and 1. Nothing after `launch ... --` is rewritten (it is written
 *   into the job script, not run).
 * Examples that cannot run here are in EXCLUDED, each with its reason; one that no longer exists fails the test.
 */

/** Examples that cannot run on a 2-core machine without GPUs or a cluster, and why. */
const EXCLUDED: ReadonlyMap<string, string> = new Map([
  ['serve --engine real --deployment split --model-file l8b-2.gguf --threads 2 --context 4096 --gpu cuda', 'needs a CUDA GPU and the 3 GB model below'],
  ['model make --shape llama3-8b --layers 2 --out l8b-2.gguf', 'writes a 3 GB model file'],
  ['model make --shape llama3-8b --layers 4 --out l8b-4layers.gguf', 'writes a 4 GB model file'],
  ['model make --shape llama3-8b --out llama3-8b-random.gguf', 'writes a 16 GB model file'],
  ['merge /scratch/*/shard.db --out run.db --max-offset-ms 5', "reads shard stores from a cluster's shared /scratch"],
]);

/** Examples that may exit with a code other than 0 (the codes they may exit with, and why). */
const EXIT_CODES: ReadonlyMap<string, readonly [readonly number[], string]> = new Map([
  [
    'sweep --trace coding --deployment splitwise-hh --rates 2,4,6 --duration 60 --live --time-scale 20',
    [[0, 1], 'live runs at 20x on a busy machine: the twin check may flag them distorted, then no rate is met (exit 1)'],
  ],
]);

/** Run names (and so ids 1, 2, …) of the store every example starts from. */
const FIXTURE_RUNS = ['baseline', 'splitwise', 'candidate', 'release-1.4', 'mono-70', 'split-70', 'mono', 'split'];

const SERVERS = new Set(['serve', 'time-server']);
const TRACE_READERS = new Set(['replay', 'sim']);

function unquote(w: string): string {
  return /^(["']).*\1$/.test(w) ? w.slice(1, -1) : w;
}

/** The example's argv after the rewrite above. `url` is the loopback serve's http://127.0.0.1:PORT. */
export function rewrite(cmd: string, url: string): string[] {
  const all = words(cmd).map(unquote);
  const cut = all.indexOf('--');
  const w = cut < 0 ? all : all.slice(0, cut);
  const after = cut < 0 ? [] : all.slice(cut);
  const has = (f: string): boolean => w.some((x) => x === f || x.startsWith(`${f}=`));
  const at = (i: number, f: (v: string) => string): void => {
    if (i >= 0 && i + 1 < w.length) w[i + 1] = f(w[i + 1]!);
  };
  const capNum = (max: number) => (v: string) => String(Math.min(Number(v), max));
  for (let i = 0; i < w.length; i++) {
    const f = w[i]!;
    if (f === '--duration') at(i, capNum(5));
    if (f === '--limit' || f === '--max-requests') at(i, capNum(20));
    if (f === '--warmup') at(i, capNum(1));
    if (f === '--model' && w.some((x) => /^--(url|time-url)$/.test(x) || /https?:\/\//.test(x))) at(i, () => 'bloom-176b');
    if (f === '--port') at(i, () => '0');
    if (f === '--host') at(i, (v) => (v === '0.0.0.0' ? '127.0.0.1' : v));
    if (f === '--window')
      at(i, (v) => {
        const [a, b] = v.split(':');
        const start = Number(a);
        return `${start}:${Math.min(b ? Number(b) : Infinity, start + 5)}`;
      });
    if (f === '--deployment') at(i, (v) => (v === 'DEP.yaml' ? 'dep.yaml' : v));
    if (f === '--name' || f === '--run') at(i, (v) => (v === 'NAME' ? 'mono' : v));
    if (f === '--seed') at(i, (v) => (v === 'N' ? '1' : v));
  }
  const out = w.map((x) => x.replace(/https?:\/\/[A-Za-z0-9.[\]_-]+:\d+/g, url));
  const command = out[0]!;
  if (SERVERS.has(command) && !has('--port')) out.push('--port', '0');
  if (TRACE_READERS.has(command) && has('--trace') && !['--window', '--duration', '--limit', '--max-requests'].some(has)) out.push('--window', '0:5');
  if ((command === 'sweep' || command === 'provision') && !has('--duration')) out.push('--duration', '5');
  if (command === 'experiment') {
    if (!has('--quick')) out.push('--quick');
    if (!has('--duration')) out.push('--duration', '5');
  }
  return [...out, ...after];
}

interface Proc {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly out: string;
}

/** Run bin/splitbench.js with `args` in `cwd`; `untilListening`: SIGINT it once it says `listening on`. */
function spawnCli(args: readonly string[], cwd: string, opts: { untilListening?: boolean; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<Proc> {
  return new Promise((resolve, reject) => {
    // Its own process group, so that a timeout ends what it started too (a bundled backend, workers).
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out = '';
    let signalled = false;
    const onData = (d: string): void => {
      out += d;
      if (opts.untilListening && !signalled && /listening on/.test(out)) {
        signalled = true;
        setTimeout(() => child.kill('SIGINT'), 500);
      }
    };
    child.stdout.setEncoding('utf8').on('data', onData);
    child.stderr.setEncoding('utf8').on('data', onData);
    const timer = setTimeout(() => {
      out += `\n(killed after ${(opts.timeoutMs ?? 90_000) / 1000} s)`;
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    }, opts.timeoutMs ?? 90_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, out });
    });
  });
}

/** A loopback `serve` on port 0: its URL and a stop function. */
async function startServe(cwd: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [BIN, 'serve', '--deployment', 'splitwise-hh', '--time-scale', '10', '--port', '0'], {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const closed = new Promise<void>((r) => child.on('close', () => r()));
  const url = await new Promise<string>((resolve, reject) => {
    let err = '';
    const onData = (d: string): void => {
      err += d;
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(err);
      if (m) resolve(m[1]!);
    };
    child.stdout.setEncoding('utf8').on('data', onData);
    child.stderr.setEncoding('utf8').on('data', onData);
    child.on('close', (code) => reject(new Error(`serve exited ${code} before listening: ${err}`)));
  });
  return {
    url,
    stop: async () => {
      child.kill('SIGINT');
      await closed;
    },
  };
}

async function mustRun(args: readonly string[], cwd: string): Promise<void> {
  const r = await spawnCli(args, cwd);
  assert.equal(r.code, 0, `fixture: splitbench ${args.join(' ')} exited ${r.code}: ${r.out.slice(-2000)}`);
}

/** The folder every example starts from (copied per example): stores with the runs they name, the files they read. */
async function makeFixture(dir: string, url: string, chunks: readonly (readonly string[])[]): Promise<void> {
  const W = (p: string): string => path.join(PACKAGE_ROOT, 'workloads', p);
  symlinkSync(W(''), path.join(dir, 'workloads'));
  copyFileSync(W('slo/interactive.yaml'), path.join(dir, 'slo.yaml'));
  copyFileSync(W('deployments/splitwise-hh.yaml'), path.join(dir, 'my-cluster.yaml'));
  const dep = readFileSync(W('deployments/llama3-8b-h200.yaml'), 'utf8').replace(
    /^profileFile: (.*)$/m,
    (_, p: string) => `profileFile: ${path.join(W('deployments'), p)}`,
  );
  writeFileSync(path.join(dir, 'dep.yaml'), `${dep}prefixCache: true\n`);
  symlinkSync(W('mooncake/conversation_trace.jsonl'), path.join(dir, 'trace.jsonl'));
  symlinkSync(W('mooncake/conversation_trace.jsonl'), path.join(dir, 'big.jsonl'));
  // The session examples' chats.jsonl: a small synthesised session trace (3 sessions of about 2 turns).
  execFileSync(
    process.execPath,
    [
      BIN,
      'trace',
      'synth',
      '--like',
      'conversation',
      '--rate',
      '0.5',
      '--sessions',
      '3',
      '--turns',
      '2',
      '--think',
      '1',
      '--out',
      path.join(dir, 'chats.jsonl'),
    ],
    { cwd: dir, stdio: 'ignore' },
  );
  symlinkSync(W('coding.csv'), path.join(dir, 'big.csv'));
  const sims = async (names: readonly string[], db: string): Promise<void> => {
    for (const name of names) {
      const deployment = name.startsWith('mono') || name === 'baseline' ? 'baseline-h100' : 'splitwise-hh';
      await mustRun(['sim', '--trace', 'conversation', '--window', '0:20', '--deployment', deployment, '--name', name, '--db', db], dir);
    }
  };
  // Three shards of one replay (for `merge shard-*.db`) wait for a shared start while the rest is made.
  const uuid = randomUUID();
  const startAt = String(Date.now() + 10_000);
  await Promise.all([
    ...[0, 1, 2].map((i) =>
      mustRun(
        [
          'replay',
          '--trace',
          'coding',
          '--window',
          '0:3',
          '--url',
          url,
          '--shard',
          `${i}/3`,
          '--start-at',
          startAt,
          '--run-uuid',
          uuid,
          '--db',
          `shard-${i}.db`,
        ],
        dir,
      ),
    ),
    sims(FIXTURE_RUNS, path.join('results', 'splitbench.db')).then(() => copyFileSync(path.join(dir, 'results', 'splitbench.db'), path.join(dir, 'other.db'))),
    sims(['real-mono', 'real-split'], 'real.db'),
    mustRun(['model', 'make', '--out', 'tiny.gguf'], dir),
    (async () => {
      // In a folder of their own (their runs would shift the store's ids); the plans and results come back.
      const side = path.join(dir, '..', 'chunks');
      mkdirSync(side);
      symlinkSync(W(''), path.join(side, 'workloads'));
      for (const c of chunks) await mustRun(c, side);
      for (const f of readdirSync(side).filter((x) => /\.json(\.results)?$/.test(x))) renameSync(path.join(side, f), path.join(dir, f));
    })(),
  ]);
}

/** A fresh copy of the fixture: files copied (examples write stores and plans), the links to bundled data kept. */
function copyFixture(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const e of readdirSync(from, { withFileTypes: true })) {
    const src = path.join(from, e.name);
    if (e.isDirectory() && e.name.endsWith('.results'))
      symlinkSync(src, path.join(to, e.name)); // a plan's results: read only
    else if (e.isDirectory()) copyFixture(src, path.join(to, e.name));
    else if (e.isSymbolicLink()) symlinkSync(readlinkSync(src), path.join(to, e.name));
    else copyFileSync(src, path.join(to, e.name));
  }
}

/** `shard-*.db`-style words expanded against the folder, as a shell would. */
function glob(args: readonly string[], cwd: string): string[] {
  return args.flatMap((a) => {
    if (!a.includes('*') || a.includes('/')) return [a];
    const re = new RegExp(`^${a.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
    const hits = readdirSync(cwd)
      .filter((f) => re.test(f))
      .sort();
    return hits.length > 0 ? hits : [a];
  });
}

test('every README, docs/ and --help example runs and exits with its documented code', { timeout: 600_000 }, async (t) => {
  const all = [...readmeExamples(), ...helpExamples()];
  const cmds = new Set(all.map((e) => e.cmd));
  assert.deepEqual(
    [...EXCLUDED.keys()].filter((c) => !cmds.has(c)),
    [],
    'excluded examples that no longer exist in the docs or --help',
  );
  assert.deepEqual(
    [...EXIT_CODES.keys()].filter((c) => !cmds.has(c)),
    [],
    'exit codes listed for examples that no longer exist',
  );
  const root = mkdtempSync(path.join(tmpdir(), 'splitbench-doc-examples-'));
  const fixture = path.join(root, 'fixture');
  mkdirSync(fixture);
  const serve = await startServe(root);
  try {
    // The chunks of every plan an example collects: `--collect` becomes `--chunk k/K` for each k of the K that
    // the same plan's `--chunk i/K` example names.
    const chunks = all
      .filter((e) => / --collect\b/.test(e.cmd))
      .flatMap((e) => {
        const plan = /--plan (\S+)/.exec(e.cmd)?.[1];
        const k = all.map((x) => new RegExp(`--plan ${plan} --chunk \\d+/(\\d+)`).exec(x.cmd)?.[1]).find((x) => x !== undefined);
        assert.ok(plan && k, `${e.where}: a --collect example needs a --chunk example of the same plan`);
        const args = rewrite(e.cmd, serve.url);
        return Array.from({ length: Number(k) }, (_, i) => args.flatMap((a) => (a === '--collect' ? ['--chunk', `${i}/${k}`] : [a])));
      });
    await makeFixture(fixture, serve.url, chunks);
    // One run per distinct command (the same example in README and --help runs once).
    const todo = [...new Map(all.filter((e) => !EXCLUDED.has(e.cmd)).map((e) => [e.cmd, e])).values()];
    const problems: string[] = [];
    const took: [number, string][] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < todo.length) {
        const n = next++;
        const { cmd, where } = todo[n]!;
        const cwd = path.join(root, `ex-${n}`);
        copyFixture(fixture, cwd);
        const args = glob(rewrite(cmd, serve.url), cwd).map((a) => a.replace(/^\$GITHUB_STEP_SUMMARY$/, path.join(cwd, 'step-summary.md')));
        const t0 = Date.now();
        const r = await spawnCli(args, cwd, { untilListening: SERVERS.has(args[0]!) });
        const want = EXIT_CODES.get(cmd)?.[0] ?? [0];
        took.push([Date.now() - t0, cmd]);
        if (r.code === null || !want.includes(r.code))
          problems.push(
            `${where}: \`splitbench ${cmd}\` (run as \`${args.join(' ')}\`) exited ${r.code ?? r.signal}, documented ${want.join(' or ')}: ${r.out.trim().split('\n').slice(-3).join(' | ')}`,
          );
        rmSync(cwd, { recursive: true, force: true });
      }
    };
    await Promise.all([worker(), worker(), worker()]);
    t.diagnostic(
      `${todo.length} examples run, ${EXCLUDED.size} excluded; slowest: ${took
        .sort((a, b) => b[0] - a[0])
        .slice(0, 5)
        .map(([ms, c]) => `${(ms / 1000).toFixed(1)} s ${c}`)
        .join('; ')}`,
    );
    assert.deepEqual(problems, []);
  } finally {
    await serve.stop();
    rmSync(root, { recursive: true, force: true });
  }
});
