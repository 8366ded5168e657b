/**
 * Distributed provisioning: a provision plan in 2 chunks, collected, equals the whole plan in one process
 * (same table of every candidate, same winner); a killed chunk reruns only what is missing; the Slurm array
 * and Kubernetes Indexed Job that `launch` writes for `-- provision` run their chunks and collect.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { kubernetesManifests, resolveLaunchOptions } from '../../src/scale/index.js';
import { BIN, runCli, spawnCli, tempDir } from './helpers.js';
import { jsonResult } from '../json-output.js';

// Small, quick settings: a 4-machine grid / a 4-machine power budget, 10 s of arrivals per run.
const COST = [
  'provision',
  '--trace',
  'coding',
  '--design',
  'splitwise-hh',
  '--objective',
  'cost-opt',
  '--rate',
  '3',
  '--max-machines',
  '4',
  '--duration',
  '10',
];
const ISO = [
  'provision',
  '--trace',
  'coding',
  '--design',
  'splitwise-hh',
  '--objective',
  'iso-power',
  '--budget-like',
  'baseline-h100:4',
  '--rate',
  '2',
  '--duration',
  '10',
];

interface Cand {
  config: string;
  counts: Record<string, number>;
  power: number;
  cost: number;
  maxRate?: number;
  passed?: boolean;
}
interface Prov {
  design: string;
  objective: string;
  reference?: Cand;
  candidates: Cand[];
  winner?: Cand;
  sims: number;
  exitCode: number;
}
interface PlanRun {
  exitCode: number;
  result?: Prov;
  ran: string[];
  skipped: string[];
  units: number;
}

const parse = (s: string): PlanRun => jsonResult<PlanRun>(s);

async function chunked(base: string[], dir: string, name: string, k = 2): Promise<PlanRun> {
  const plan = path.join(dir, `${name}.json`);
  const runs = await Promise.all(
    Array.from({ length: k }, (_, i) => runCli([...base, '--plan', plan, '--chunk', `${i}/${k}`, '--db', path.join(dir, `${name}-c${i}.db`)])),
  );
  for (const [i, r] of runs.entries()) {
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^chunk ${i}/${k}: ran \\d+, skipped 0 already done \\(of \\d+ units in the plan\\)`));
  }
  const c = await runCli([...base, '--plan', plan, '--collect', '--json']);
  assert.equal(c.code, 0, c.stderr);
  return parse(c.stdout);
}

test('cost-opt plan in 2 chunks, collected, equals the whole plan in one process; the table is the whole grid; same winner as the search', async () => {
  const dir = tempDir('splitbench-provplan-');
  const [single, plain, collected] = await Promise.all([
    runCli([...COST, '--plan', path.join(dir, 'one.json'), '--db', path.join(dir, 'one.db'), '--json']),
    runCli([...COST, '--db', path.join(dir, 'plain.db'), '--json']),
    chunked(COST, dir, 'two'),
  ]);
  assert.equal(single.code, 0, single.stderr);
  const a = parse(single.stdout).result!;
  assert.deepEqual(collected.result, a);
  // Every configuration of at most 4 machines, P ascending then T.
  assert.deepEqual(
    a.candidates.map((c) => c.config),
    ['1P+1T', '1P+2T', '1P+3T', '2P+1T', '2P+2T', '3P+1T'],
  );
  assert.equal(a.sims, 6);
  for (const c of a.candidates) assert.equal(typeof c.passed, 'boolean');
  // The winner is the cheapest passing configuration of the table, and the staircase search finds it too.
  const passing = a.candidates.filter((c) => c.passed).sort((x, y) => x.cost - y.cost);
  assert.ok(passing.length > 0 && passing.length < 6, 'the grid has both passing and failing configurations');
  assert.deepEqual(a.winner, passing[0]);
  assert.equal(plain.code, 0, plain.stderr);
  const p = jsonResult(plain.stdout) as Prov;
  assert.deepEqual(p.winner, a.winner);
  // Every candidate the search tried has the plan's verdict.
  for (const c of p.candidates) assert.equal(a.candidates.find((x) => x.config === c.config)?.passed, c.passed, c.config);
});

test('iso-power plan in 2 chunks, collected, equals the whole plan in one process (reference + the budget line)', async () => {
  const dir = tempDir('splitbench-provplan-');
  const [single, collected] = await Promise.all([
    runCli([...ISO, '--plan', path.join(dir, 'one.json'), '--db', path.join(dir, 'one.db'), '--json']),
    chunked(ISO, dir, 'two'),
  ]);
  assert.equal(single.code, 0, single.stderr);
  const a = parse(single.stdout);
  assert.equal(a.units, 4);
  assert.deepEqual(collected.result, a.result);
  const r = a.result!;
  assert.equal(r.reference?.config, 'baseline-h100:4');
  assert.ok(r.reference.maxRate! > 0);
  assert.deepEqual(
    r.candidates.map((c) => c.config),
    ['1P+3T', '2P+2T', '3P+1T'],
  );
  for (const c of r.candidates) assert.equal(c.power, 176);
  const best = Math.max(...r.candidates.map((c) => c.maxRate ?? 0));
  assert.ok(best > 0);
  assert.deepEqual(
    r.winner,
    r.candidates.find((c) => c.maxRate === best),
  );
  // The human table names the reference and the winner.
  const text = await runCli([...ISO, '--plan', path.join(dir, 'one.json'), '--collect']);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /baseline-h100:4 \(reference\)/);
  assert.match(text.stdout, new RegExp(`${r.winner!.config.replace('+', '\\+')}\\s+<- winner`));
});

test('killing a provision chunk and rerunning it redoes only the missing units; early collect and other flags are refused', async () => {
  const dir = tempDir('splitbench-provplan-');
  const plan = path.join(dir, 'plan.json');
  const base = [...COST.slice(0, -4), '--max-machines', '5', '--duration', '10'];
  const args = [...base, '--plan', plan, '--chunk', '0/1', '--db', path.join(dir, 'c.db')];
  const first = spawnCli(args);
  const results = `${plan}.results`;
  const done = (): string[] => (existsSync(results) ? readdirSync(results).filter((f) => f.endsWith('.json')) : []);
  for (let i = 0; i < 600 && done().length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  first.child.kill('SIGKILL');
  await first.done;
  const kept = done();
  assert.ok(kept.length >= 1 && kept.length < 10, `killed after ${kept.length} of 10`);
  const before = new Map(kept.map((f) => [f, readFileSync(path.join(results, f), 'utf8')]));
  const early = await runCli([...base, '--plan', plan, '--collect']);
  assert.equal(early.code, 2);
  assert.match(
    early.stderr,
    new RegExp(`plan\\.json: ${10 - kept.length} of 10 configurations have no result yet: splitwise-hh \\dP\\+\\dT \\([0-9a-f]{20}\\)`),
  );
  const again = await runCli(args);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, new RegExp(`ran ${10 - kept.length}, skipped ${kept.length} already done \\(of 10 units`));
  assert.equal((again.stderr.match(/already done; skipped/g) ?? []).length, kept.length);
  for (const [f, text] of before) assert.equal(readFileSync(path.join(results, f), 'utf8'), text, `${f} untouched`);
  const all = await runCli([...base, '--plan', plan, '--collect', '--json']);
  assert.equal(all.code, 0, all.stderr);
  assert.equal(parse(all.stdout).result!.candidates.length, 10);
  // Other flags against the plan, a sweep plan, or chunk flags without --plan: one-line usage errors.
  const other = await runCli([...base.slice(0, -2), '--duration', '20', '--plan', plan, '--collect']);
  assert.equal(other.code, 2);
  assert.match(other.stderr, /plan\.json: holds another plan/);
  const noPlan = await runCli([...base, '--chunk', '0/2']);
  assert.equal(noPlan.code, 2);
  assert.match(noPlan.stderr, /--chunk: needs --plan FILE/);
  const sweepPlan = path.join(dir, 'sweep.json');
  writeFileSync(sweepPlan, JSON.stringify({ format: 'splitbench-plan/1', kind: 'sweep', items: [] }));
  const wrongKind = await runCli([...base, '--plan', sweepPlan, '--collect']);
  assert.equal(wrongKind.code, 2);
  assert.match(wrongKind.stderr, /sweep\.json: is a sweep plan, not a provision plan/);
});

test('launch --chunks 2 -- provision: the Slurm array script and the Kubernetes Indexed Job run the chunks and collect the same answer', async () => {
  const dir = tempDir('splitbench-provlaunch-');
  const single = await runCli([...COST, '--plan', path.join(dir, 'one.json'), '--db', path.join(dir, 'one.db'), '--json']);
  assert.equal(single.code, 0, single.stderr);
  const want = parse(single.stdout).result;

  // Slurm: a stand-in sbatch runs the array's tasks with Slurm's environment, then the --wrap'ed collect job.
  const fakeBin = path.join(dir, 'bin');
  mkdirSync(fakeBin);
  const sbatch = path.join(fakeBin, 'sbatch');
  writeFileSync(
    sbatch,
    [
      '#!/bin/bash',
      'set -e',
      'wrap=""; for a in "$@"; do case "$a" in --wrap=*) wrap="${a#--wrap=}";; esac; done',
      'if [ -n "$wrap" ]; then bash -c "$wrap"; echo 2; exit 0; fi',
      'script="${@: -1}"',
      'for i in 0 1; do SLURM_JOB_ID=1 SLURM_ARRAY_JOB_ID=1 SLURM_ARRAY_TASK_ID=$i SLURM_ARRAY_TASK_COUNT=2 bash "$script" >&2; done',
      'echo 1',
      '',
    ].join('\n'),
  );
  chmodSync(sbatch, 0o755);
  const script = path.join(dir, 'prov.sbatch');
  const cmd = `${process.execPath} ${BIN}`;
  const l = await runCli([
    'launch',
    'slurm',
    '--chunks',
    '2',
    '--name',
    'prov',
    '--splitbench',
    cmd,
    '--shared-dir',
    path.join(dir, 'shared'),
    '--file',
    script,
    '--',
    ...COST,
  ]);
  assert.equal(l.code, 0, l.stderr);
  const s = readFileSync(script, 'utf8');
  assert.match(s, /provision --trace coding .* --plan "[^"]*\/shared\/prov\.plan\.json" --chunk auto --chunk-count 2 --db "\$LOCAL"/);
  execFileSync('bash', [script], {
    cwd: dir,
    env: { ...process.env, PATH: `${fakeBin}:${process.env.PATH ?? ''}`, TMPDIR: dir, SLURM_JOB_ID: '' },
    stdio: 'pipe',
  });
  const slurm = jsonResult<PlanRun>(readFileSync(path.join(dir, 'shared', 'prov.result.json'), 'utf8'));
  assert.deepEqual(slurm.result, want);

  // Kubernetes: each index's container command, then the merge Job's, with the image's splitbench on PATH
  // and the volumes as folders.
  const o = resolveLaunchOptions('kubernetes', { chunks: 2, sharedDir: path.join(dir, 'vol'), runUuid: 'prov-0001' }, COST);
  assert.equal(o.name, 'splitbench-provision');
  const m = kubernetesManifests(o);
  const job = m.job as { spec: { completions: number; template: { spec: { containers: { command: string[]; env: { name: string; value: string }[] }[] } } } };
  const merge = m.merge as { spec: { template: { spec: { containers: { command: string[] }[] } } } };
  const work = job.spec.template.spec.containers[0]!;
  assert.match(work.command[2]!, /splitbench provision .* --plan \S+\/plan\.json --chunk auto --db \/scratch\/chunk\.db/);
  assert.match(merge.spec.template.spec.containers[0]!.command[2]!, /splitbench provision .* --collect --json/);
  writeFileSync(path.join(fakeBin, 'splitbench'), `#!/bin/sh\nexec ${cmd} "$@"\n`);
  chmodSync(path.join(fakeBin, 'splitbench'), 0o755);
  const env = { ...process.env, PATH: `${fakeBin}:${process.env.PATH ?? ''}`, ...Object.fromEntries(work.env.map((e) => [e.name, e.value])) };
  const local = (c: string): string => c.replaceAll('/scratch/', `${dir}/scratch-`);
  for (let i = 0; i < job.spec.completions; i++)
    execFileSync('/bin/sh', ['-c', local(work.command[2]!)], { env: { ...env, JOB_COMPLETION_INDEX: String(i) }, stdio: 'pipe' });
  execFileSync('/bin/sh', ['-c', merge.spec.template.spec.containers[0]!.command[2]!], { env, stdio: 'pipe', timeout: 60_000 });
  const k8s = jsonResult<PlanRun>(readFileSync(path.join(dir, 'vol', 'prov-0001', 'result.json'), 'utf8'));
  assert.deepEqual(k8s.result, want);

  // A chunked launch of another command is refused.
  const bad = await runCli(['launch', 'slurm', '--chunks', '2', '--', 'replay', '--trace', 'coding']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--chunks launches a sweep or a provision: give `-- sweep\|provision <its arguments>`/);
});
