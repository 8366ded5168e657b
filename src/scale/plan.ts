/**
 * Distributed sweeps: `sweep --plan FILE` writes its work as a manifest of configurations, each a unit with
 * its own capacity search (one deployment's rate search); `--chunk k/K` runs configurations i with
 * i mod K = k; results land one JSON file per configuration in `FILE.results/`, named by a hash of
 * (configuration, trace sha256, splitbench version), and a configuration whose result exists is skipped —
 * so a killed chunk, rerun, redoes only what is missing. `--collect` (or a plain `--plan` run) merges the
 * results into one answer, the same as a single-process sweep of the same plan: simulations are
 * deterministic for a seed, and each configuration's search runs whole in one process.
 *
 * `--deployment a,b,c` in plan mode sweeps several deployments (one configuration each).
 *
 * The file machinery (plan identity, chunk slicing, one result file per unit, skipping done units, collecting
 * with the missing named) is generic over the kind of plan: `provision --plan` (provision-plan.ts) uses it
 * with its own units.
 * `--chunk auto`: SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT (a job array), or JOB_COMPLETION_INDEX with
 * the completions from `--chunk-count` or SPLITBENCH_CHUNKS (a Kubernetes Indexed Job).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, ExitCode } from '../errors.js';
import type { SweepOptions, SweepResult } from '../sim/index.js';
import { sha256File, resolveTracePath } from '../trace/index.js';
import { VERSION } from '../version.js';

export const PLAN_FORMAT = 'splitbench-plan/1';

export interface PlanItem {
  /** Hash of (configuration, trace sha256, splitbench version): the result's file name. */
  readonly key: string;
  readonly deployment: string;
}

export interface SweepPlan extends PlanFile {
  readonly kind: 'sweep';
  /** The sweep's options shared by every configuration (what makes two plans the same work). */
  readonly base: Record<string, unknown>;
  readonly items: readonly PlanItem[];
}

/** What every plan kind shares: the units (`items`, each with its result's file name) and what makes two plans the same work. */
export interface PlanFile {
  readonly format: typeof PLAN_FORMAT;
  readonly kind: string;
  readonly splitbenchVersion: string;
  readonly traceSha256: string;
  readonly base: Record<string, unknown>;
  readonly items: readonly { readonly key: string }[];
}

export interface ChunkSpec {
  readonly index: number;
  readonly count: number;
}

/** `k/K` or `auto` (job array / Indexed Job environment). */
export function parseChunk(value: string, opts: { env?: NodeJS.ProcessEnv; count?: number } = {}): ChunkSpec {
  const env = opts.env ?? process.env;
  const v = value.trim();
  const int = (s: string | undefined): number | undefined => (s !== undefined && /^\d+$/.test(s.trim()) ? Number(s) : undefined);
  let c: ChunkSpec | undefined;
  let from = v;
  if (v === 'auto') {
    const si = int(env.SLURM_ARRAY_TASK_ID);
    const ki = int(env.JOB_COMPLETION_INDEX);
    if (si !== undefined) {
      const n = opts.count ?? int(env.SLURM_ARRAY_TASK_COUNT);
      if (n === undefined)
        throw new ConfigError('auto: SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not', { path: '--chunk', hint: 'pass --chunk-count K' });
      c = { index: si - (int(env.SLURM_ARRAY_TASK_MIN) ?? 0), count: n };
      from = 'SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT';
    } else if (ki !== undefined) {
      const n = opts.count ?? int(env.SPLITBENCH_CHUNKS);
      if (n === undefined)
        throw new ConfigError(`auto: JOB_COMPLETION_INDEX=${ki} is set but the chunk count is not`, {
          path: '--chunk',
          hint: 'pass --chunk-count K or set SPLITBENCH_CHUNKS',
        });
      c = { index: ki, count: n };
      from = 'JOB_COMPLETION_INDEX/SPLITBENCH_CHUNKS';
    } else {
      throw new ConfigError('auto: no job-array environment found', {
        path: '--chunk',
        hint: 'set SLURM_ARRAY_TASK_ID (sbatch --array) or JOB_COMPLETION_INDEX (Indexed Job), or give k/K',
      });
    }
  } else {
    const m = /^(\d+)\s*\/\s*(\d+)$/.exec(v);
    if (!m) throw new ConfigError(`expected k/K (e.g. 0/4) or auto, got '${value}'`, { path: '--chunk' });
    c = { index: Number(m[1]), count: Number(m[2]) };
  }
  if (c.count < 1 || c.index >= c.count)
    throw new ConfigError(`chunk ${c.index} of ${c.count} is out of range (from ${from}; chunks are 0-based)`, { path: '--chunk' });
  return c;
}

/** Stable JSON (sorted keys) for hashing and plan files. */
function stable(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stable).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v as Record<string, unknown>)
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stable((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

export function configKey(config: unknown, traceSha256: string, version = VERSION): string {
  return createHash('sha256').update(stable({ config, traceSha256, version })).digest('hex').slice(0, 20);
}

/**
 * The requests a plan's units run, as plan identity: the trace by file name and content hash, and the flags
 * that shape its requests (sweep and provisioning plans alike).
 */
export async function planWorkload(o: Pick<SweepOptions, 'trace' | 'traceFormat' | 'transforms' | 'model' | 'compat'>) {
  const traceSha256 = await sha256File(resolveTracePath(o.trace));
  const workload = {
    trace: path.basename(o.trace),
    traceFormat: o.traceFormat ?? null,
    transforms: o.transforms,
    model: o.model ?? null,
    compat: o.compat ?? null,
  };
  return { traceSha256, workload };
}

/** The work of a sweep: one configuration per deployment. */
export async function buildSweepPlan(o: SweepOptions, deployments: readonly string[]): Promise<SweepPlan> {
  const { traceSha256, workload } = await planWorkload(o);
  const base = {
    ...workload,
    rates: o.rates,
    durationS: o.durationS,
    live: o.live,
    timeScale: o.timeScale,
    slo: o.slo,
    seed: o.seed,
    tolerance: o.tolerance,
  };
  return {
    format: PLAN_FORMAT,
    kind: 'sweep',
    splitbenchVersion: VERSION,
    traceSha256,
    base,
    items: deployments.map((deployment) => ({ key: configKey({ ...base, deployment }, traceSha256), deployment })),
  };
}

function writeAtomic(file: string, text: string): void {
  mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

/** Write the plan, or check that an existing one is the same work. */
export function savePlan(file: string, plan: PlanFile): void {
  const text = `${JSON.stringify(plan, null, 2)}\n`;
  if (existsSync(file)) {
    const old = readPlanJson(file);
    if (stable(old) !== stable(plan)) {
      throw new ConfigError('holds another plan (different flags, trace or splitbench version) than these flags make', {
        path: file,
        hint: 'give the same flags as when it was written, or a new --plan file',
      });
    }
    return;
  }
  writeAtomic(file, text);
}

function readPlanJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ConfigError(`not a readable plan: ${(e as Error).message}`, { path: file });
  }
}

/** Read a plan file of the given kind. */
export function loadPlanOf<P extends PlanFile>(file: string, kind: P['kind']): P {
  const p = readPlanJson(file) as Partial<PlanFile>;
  if (p.format === PLAN_FORMAT && typeof p.kind === 'string' && p.kind !== kind) {
    throw new ConfigError(`is a ${p.kind} plan, not a ${kind} plan`, { path: file, hint: `collect it with \`splitbench ${p.kind} --plan ... --collect\`` });
  }
  if (p.format !== PLAN_FORMAT || p.kind !== kind || !Array.isArray(p.items))
    throw new ConfigError(`not a splitbench ${kind} plan (format ${String(p.format)})`, { path: file });
  return p as P;
}

/** True when both plans are the same work. */
export function samePlan(a: PlanFile, b: PlanFile): boolean {
  return stable(a) === stable(b);
}

export function loadPlan(file: string): SweepPlan {
  return loadPlanOf<SweepPlan>(file, 'sweep');
}

export const resultsDir = (planFile: string): string => `${planFile}.results`;

export interface ConfigResult {
  readonly key: string;
  readonly deployment: string;
  readonly maxRate: number | null;
  readonly firstFail: number | null;
  readonly points: readonly {
    rate: number;
    passed: boolean;
    reason?: string;
    failed: readonly string[];
    throughput?: number;
    ttftP99?: number;
    e2eP99?: number;
  }[];
  /** Where the runs are (the chunk's store) — informative; not part of the answer. */
  readonly db: string;
  readonly runIds: readonly number[];
}

export interface PlanResult {
  readonly plan: string;
  readonly slo: string;
  readonly configs: readonly ConfigResult[];
  readonly best?: { readonly deployment: string; readonly maxRate: number };
  readonly exitCode: number;
}

/**
 * Run the units of chunk `chunk` (items i with i mod K = k) whose result file is missing; each result is
 * written atomically as `FILE.results/<key>.json` once its unit is done, so a killed chunk loses only the
 * unit it was running.
 */
export async function runUnits<I extends { readonly key: string }, R>(
  planFile: string,
  items: readonly I[],
  chunk: ChunkSpec,
  label: (item: I) => string,
  runOne: (item: I) => Promise<R>,
  log: (l: string) => void,
): Promise<{ ran: string[]; skipped: string[] }> {
  const dir = resultsDir(planFile);
  mkdirSync(dir, { recursive: true });
  const ran: string[] = [];
  const skipped: string[] = [];
  for (let i = 0; i < items.length; i++) {
    if (i % chunk.count !== chunk.index) continue;
    const it = items[i]!;
    const file = path.join(dir, `${it.key}.json`);
    if (existsSync(file)) {
      skipped.push(it.key);
      log(`plan ${path.basename(planFile)}: ${label(it)} (${it.key}) already done; skipped`);
      continue;
    }
    log(`plan ${path.basename(planFile)}: chunk ${chunk.index}/${chunk.count}: ${label(it)} (${it.key})`);
    const out = await runOne(it);
    writeAtomic(file, `${JSON.stringify(out, null, 2)}\n`);
    ran.push(it.key);
  }
  return { ran, skipped };
}

/** Every unit's result, in plan order; a missing one is an error naming it. */
export function readUnits<I extends { readonly key: string }, R>(
  planFile: string,
  items: readonly I[],
  label: (item: I) => string,
  noun = 'configurations',
): R[] {
  const dir = resultsDir(planFile);
  const have = new Set(
    existsSync(dir)
      ? readdirSync(dir)
          .filter((f) => f.endsWith('.json'))
          .map((f) => f.slice(0, -5))
      : [],
  );
  const missing = items.filter((it) => !have.has(it.key));
  if (missing.length > 0) {
    throw new ConfigError(`${missing.length} of ${items.length} ${noun} have no result yet: ${missing.map((m) => `${label(m)} (${m.key})`).join(', ')}`, {
      path: planFile,
      hint: 'run the missing chunks (a rerun of a chunk skips what is done)',
    });
  }
  return items.map((it) => {
    const file = path.join(dir, `${it.key}.json`);
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as R;
    } catch (e) {
      throw new ConfigError(`not a readable result: ${(e as Error).message}`, { path: file, hint: 'delete it and rerun its chunk' });
    }
  });
}

/**
 * `--copy-db-to FILE` of a chunk: the store the results name (FILE, on the shared folder) when the chunk
 * writes its runs to node-local `--db`; undefined: results name `--db` itself.
 */
export function copyDbTarget(argv: Record<string, unknown>): string | undefined {
  const v = argv.copyDbTo;
  if (v === undefined) return undefined;
  if (Array.isArray(v) || typeof v !== 'string' || v.trim() === '')
    throw new ConfigError(`expected one file path, got ${JSON.stringify(v)}`, { path: '--copy-db-to' });
  if (argv.collect) throw new ConfigError('applies to a chunk that runs (drop it with --collect)', { path: '--copy-db-to' });
  return path.resolve(v);
}

/**
 * Copy a finished chunk's store to `dest` (typically on a shared network filesystem) as one consistent file
 * (the store's `publishStore`: an online backup without WAL, then a rename).
 */
import { publishStore } from '../store/index.js';
export { publishStore };

/** `--chunk` and `--chunk-count` of a plan command (none: the whole plan in this process). */
export function chunkOf(argv: Record<string, unknown>): ChunkSpec {
  const countRaw = argv.chunkCount;
  return argv.chunk === undefined ? { index: 0, count: 1 } : parseChunk(String(argv.chunk), typeof countRaw === 'number' ? { count: countRaw } : {});
}

/** Run chunk `chunk` of the plan (missing configurations only); `runOne` runs one configuration's sweep. */
export async function runChunk(
  planFile: string,
  plan: SweepPlan,
  chunk: ChunkSpec,
  db: string,
  runOne: (deployment: string) => Promise<SweepResult>,
  log: (l: string) => void,
): Promise<{ ran: string[]; skipped: string[] }> {
  return runUnits(
    planFile,
    plan.items,
    chunk,
    (it) => it.deployment,
    async (it): Promise<ConfigResult> => {
      const r = await runOne(it.deployment);
      return {
        key: it.key,
        deployment: it.deployment,
        maxRate: r.maxRate ?? null,
        firstFail: r.firstFail ?? null,
        points: r.points.map((p) => ({
          rate: p.rate,
          passed: p.passed,
          ...(p.reason ? { reason: p.reason } : {}),
          failed: p.failed,
          ...(p.throughput !== undefined ? { throughput: p.throughput } : {}),
          ...(p.ttftP99 !== undefined ? { ttftP99: p.ttftP99 } : {}),
          ...(p.e2eP99 !== undefined ? { e2eP99: p.e2eP99 } : {}),
        })),
        db: path.resolve(db),
        runIds: r.points.map((p) => p.runId),
      };
    },
    log,
  );
}

/** Merge every configuration's result; a missing one is an error naming it. */
export function collectPlan(planFile: string, plan: SweepPlan): PlanResult {
  const configs = readUnits<PlanItem, ConfigResult>(planFile, plan.items, (it) => it.deployment);
  let best: PlanResult['best'];
  for (const c of configs) if (c.maxRate !== null && (!best || c.maxRate > best.maxRate)) best = { deployment: c.deployment, maxRate: c.maxRate };
  return {
    plan: planFile,
    slo: String(plan.base.slo),
    configs,
    ...(best ? { best } : {}),
    exitCode: configs.some((c) => c.maxRate !== null) ? ExitCode.ok : ExitCode.sloFailed,
  };
}

export function formatPlanResult(r: PlanResult): string {
  const rows: string[][] = [['deployment', 'max rate req/s', 'first fail', 'rates tried', 'key']];
  for (const c of r.configs)
    rows.push([
      c.deployment,
      c.maxRate === null ? 'none' : String(c.maxRate),
      c.firstFail === null ? '-' : String(c.firstFail),
      String(c.points.length),
      c.key,
    ]);
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((x) => x[i]!.length)));
  const lines = rows.map((x) =>
    x
      .map((c, i) => c.padEnd(w[i]!))
      .join('  ')
      .trimEnd(),
  );
  lines.push(
    r.best ? `highest max throughput under ${path.basename(r.slo)}: ${r.best.deployment} at ${r.best.maxRate} req/s` : `no configuration met ${r.slo}`,
  );
  return lines.join('\n');
}

export interface SweepPlanRun {
  readonly exitCode: number;
  /** The merged answer (plain --plan, or --collect). */
  readonly result?: PlanResult;
  readonly chunk?: ChunkSpec;
  readonly ran: readonly string[];
  readonly skipped: readonly string[];
}

/** `sweep --plan FILE [--chunk k/K | --collect]`. */
export async function runSweepPlan(argv: Record<string, unknown>, log: (l: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<SweepPlanRun> {
  const planFile = String(argv.plan);
  const copyTo = copyDbTarget(argv);
  if (argv.collect) {
    if (argv.chunk !== undefined) throw new ConfigError('--collect merges finished chunks; it runs none (drop --chunk)', { path: '--collect' });
    const result = collectPlan(planFile, loadPlan(planFile));
    return { exitCode: result.exitCode, result, ran: [], skipped: [] };
  }
  const sim = await import('../sim/index.js');
  const deployments = String(argv.deployment ?? 'splitwise-hh')
    .split(',')
    .map((d) => d.trim());
  if (deployments.some((d) => d === '') || new Set(deployments).size !== deployments.length) {
    throw new ConfigError(`expected distinct deployment names separated by commas, got '${String(argv.deployment)}'`, { path: '--deployment' });
  }
  const opts = sim.resolveSweepOptions({ ...argv, deployment: deployments[0] });
  const chunk = chunkOf(argv);
  const plan = await buildSweepPlan(opts, deployments);
  savePlan(planFile, plan);
  const runner = await sim.sweepRateRunner(opts);
  // Each deployment and the engine data are read here (the simulator reads no file).
  const { loadSimInput } = await import('../config/index.js');
  const { ran, skipped } = await runChunk(
    planFile,
    plan,
    chunk,
    copyTo ?? opts.db,
    (d) => sim.runSweep({ ...opts, deployment: d }, runner, loadSimInput({ ...opts, deployment: d }), { log }),
    log,
  );
  if (copyTo !== undefined) {
    await publishStore(opts.db, copyTo);
    log(`plan ${path.basename(planFile)}: chunk ${chunk.index}/${chunk.count}: store copied to ${copyTo}`);
  }
  if (argv.chunk !== undefined) return { exitCode: ExitCode.ok, chunk, ran, skipped };
  const result = collectPlan(planFile, plan);
  return { exitCode: result.exitCode, result, ran, skipped };
}
