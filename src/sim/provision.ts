/**
 * Cluster provisioning (Splitwise paper section 4.4): search prompt/token machine counts of a design for the
 * best configuration under an objective.
 *
 * - iso-power / iso-cost: the most throughput (max rate meeting the SLOs) for the provisioned power or cost
 *   of a reference cluster (`--budget-like baseline-h100:40`); candidates lie on the budget line
 *   (P prompt machines, then as many token machines as the rest of the budget buys). Throughput along that
 *   line is searched coarse-to-fine (a grid over P, then halving steps around the best), and each
 *   candidate's max rate by an escalating search + bisection on short traces, started from the best rate so
 *   far.
 * - cost-opt / power-opt: the least cost (power) that meets the SLOs at rate R. Passing is monotone in both
 *   counts, so the minimal token count per prompt count is non-increasing: a staircase walk (P up, T down)
 *   tries O(P + T) candidates, and stops once even one token machine more costs more than the best found.
 *
 * - `provision --plan FILE` (src/scale): the exhaustive form for many machines — every candidate on the
 *   budget line (iso) or of the grid within --max-machines (cost/power-opt), each evaluated on its own
 *   (`provisionCandidates`, `pickWinner`), so chunks on different hosts compose into one answer.
 *
 * Per-machine power and cost: the machine catalog's `powerUnits` (the paper's units: DGX-A100 24.8,
 * DGX-H100 44, capped DGX-H100 30.8) and `pricePerHour`.
 */
import crypto from 'node:crypto';
import { ConfigError, ExitCode } from '../errors.js';
import { defineDeployment } from '../config/index.js';
import { type Catalog, DEPLOYMENT_BOUNDS, type Deployment, type EngineData } from '../engine/index.js';
import { loadSlo, type SloSpec } from '../metrics/index.js';
import { openStore, type Store } from '../store/index.js';
import { bundledTraceSizes } from '../config/snapshot.js';
import { traceSampler } from '../trace/index.js';
import type { CompatMode } from './cluster.js';
import { Problems } from '../flagspec.js';
import { checkStore, compatMode, type ProvisionFlags, SIM_DEFAULTS, type SimOptions } from './options.js';
import { drive, escalatingSearch, judgeRun, type SearchResult } from './search.js';
import { searchTrace, type RateContext, type RateRunner, type RateRunnerFactory } from './sweep.js';

export interface DesignSpec {
  readonly name: string;
  readonly kind: 'split' | 'monolithic';
  readonly prompt?: string;
  readonly token?: string;
  readonly machine?: string;
}

/** The paper's six designs (section 6): machine types of the prompt and token pools. */
export const DESIGNS: Readonly<Record<string, DesignSpec>> = Object.freeze({
  'splitwise-hh': { name: 'splitwise-hh', kind: 'split', prompt: 'dgx-h100', token: 'dgx-h100' },
  'splitwise-ha': { name: 'splitwise-ha', kind: 'split', prompt: 'dgx-h100', token: 'dgx-a100' },
  'splitwise-aa': { name: 'splitwise-aa', kind: 'split', prompt: 'dgx-a100', token: 'dgx-a100' },
  'splitwise-hhcap': { name: 'splitwise-hhcap', kind: 'split', prompt: 'dgx-h100', token: 'dgx-h100-cap' },
  'baseline-a100': { name: 'baseline-a100', kind: 'monolithic', machine: 'dgx-a100' },
  'baseline-h100': { name: 'baseline-h100', kind: 'monolithic', machine: 'dgx-h100' },
});
export const DESIGN_NAMES = Object.keys(DESIGNS);
export const OBJECTIVES = ['iso-power', 'iso-cost', 'cost-opt', 'power-opt'] as const;
export type Objective = (typeof OBJECTIVES)[number];

/** Machine counts of a design: (prompt, token) for split designs, `mixed` for baselines. */
export interface Counts {
  readonly prompt?: number;
  readonly token?: number;
  readonly mixed?: number;
}

export function designDeployment(design: DesignSpec, c: Counts, model = 'bloom-176b'): Deployment {
  if (design.kind === 'monolithic') {
    return defineDeployment({
      name: `${design.name}-${c.mixed}`,
      kind: 'monolithic',
      model,
      scheduler: 'jsq-tokens',
      pools: { mixed: { machine: design.machine!, count: c.mixed! } },
    });
  }
  return defineDeployment({
    name: `${design.name}-${c.prompt}p${c.token}t`,
    kind: 'split',
    model,
    scheduler: 'splitwise-mixed-pool',
    pools: { prompt: { machine: design.prompt!, count: c.prompt! }, token: { machine: design.token!, count: c.token! } },
  });
}

export function countsLabel(d: DesignSpec, c: Counts): string {
  return d.kind === 'monolithic' ? `${c.mixed}` : `${c.prompt}P+${c.token}T`;
}

/** Provisioned power (the paper's units) and cost ($/h) of a configuration, from the machine catalog `cat`. */
export function provisioned(d: DesignSpec, c: Counts, cat: Catalog): { power: number; cost: number; machines: number } {
  const parts: [string, number][] =
    d.kind === 'monolithic'
      ? [[d.machine!, c.mixed!]]
      : [
          [d.prompt!, c.prompt!],
          [d.token!, c.token!],
        ];
  let power = 0;
  let cost = 0;
  let machines = 0;
  for (const [m, n] of parts) {
    const spec = cat.machine(m);
    power += spec.powerUnits * n;
    cost += spec.pricePerHour * n;
    machines += n;
  }
  return { power, cost, machines };
}

/** `design:count`, e.g. baseline-h100:40. */
export function parseBudgetLike(s: string, flag = '--budget-like'): { design: DesignSpec; counts: Counts } {
  const m = /^([a-z0-9-]+):(\d+)(?:,(\d+))?$/.exec(s.trim());
  const d = m ? DESIGNS[m[1]!] : undefined;
  if (!m || !d)
    throw new ConfigError(`expected DESIGN:COUNT (split designs: DESIGN:PROMPT,TOKEN), e.g. baseline-h100:40; got '${s}'`, {
      path: flag,
      hint: `designs: ${DESIGN_NAMES.join(', ')}`,
    });
  const machines = Number(m[2]) + Number(m[3] ?? 0);
  if (machines > DEPLOYMENT_BOUNDS.machines) {
    throw new ConfigError(`${machines} machines: a reference cluster has at most ${DEPLOYMENT_BOUNDS.machines} (the bound for a deployment)`, { path: flag });
  }
  if (d.kind === 'monolithic') {
    if (m[3] !== undefined) throw new ConfigError(`${d.name} has one pool: give DESIGN:COUNT`, { path: flag });
    return { design: d, counts: { mixed: Number(m[2]) } };
  }
  if (m[3] === undefined) throw new ConfigError(`${d.name} has two pools: give DESIGN:PROMPT,TOKEN`, { path: flag });
  return { design: d, counts: { prompt: Number(m[2]), token: Number(m[3]) } };
}

export interface EvaluatorOptions {
  /** Where the runner's runs are judged from. */
  readonly store: Store;
  /** Runs each (configuration, rate): a `RateRunnerFactory`'s runner over `store` (`evaluatorRunner`). */
  readonly runner: RateRunner;
  readonly slo: SloSpec;
  /** Names the runs (`-compat`); the runner simulates in this mode. */
  readonly compat: CompatMode;
  readonly model?: string;
  readonly tags: Record<string, string>;
  readonly tolerance?: number;
  readonly log?: (line: string) => void;
}

export interface RateOutcome {
  readonly rate: number;
  readonly passed: boolean;
  readonly runId: number;
  readonly throughput?: number;
}

/**
 * The runner of an Evaluator: `makeRunner`'s over the store and the trace's sizes, recording what the
 * Splitwise SLOs need only (no per-iteration chunks, no power/queue samples).
 */
export function evaluatorRunner(
  makeRunner: RateRunnerFactory,
  ctx: Omit<RateContext, 'chunks' | 'sampleIntervalS' | 'overloadBacklogS' | 'traceSha256'>,
): RateRunner {
  return makeRunner({ ...ctx, chunks: false, sampleIntervalS: 0 });
}

/** Runs and judges configurations of designs (shared by provision and the Splitwise experiment). */
export class Evaluator {
  private readonly cache = new Map<string, RateOutcome>();
  sims = 0;
  /** Ids of the runs this evaluator simulated, in order. */
  readonly runIds: number[] = [];
  constructor(readonly o: EvaluatorOptions) {}

  /** Does (design, counts) meet the SLOs at `rate`? (cached) */
  async passesAt(d: DesignSpec, c: Counts, rate: number): Promise<RateOutcome> {
    const key = `${d.name}|${countsLabel(d, c)}|${rate}`;
    const hit = this.cache.get(key);
    if (hit) return hit;
    const dep = designDeployment(d, c, this.o.model);
    const { runId, overloaded } = await this.o.runner.run({
      rate,
      deployment: dep,
      deploymentLabel: dep.name,
      name: `${dep.name}-r${rate}${this.o.compat ? '-compat' : ''}`,
      tags: { ...this.o.tags, design: d.name, config: countsLabel(d, c) },
      options: { design: d.name, counts: c },
    });
    this.sims++;
    this.runIds.push(runId);
    const j = await judgeRun(this.o.store, runId, this.o.slo);
    const out: RateOutcome = { rate, passed: j.passed && !overloaded, runId, ...(j.summary ? { throughput: j.summary.throughput.requestsPerS } : {}) };
    this.cache.set(key, out);
    this.o.log?.(`  ${dep.name}${this.o.compat ? ' (compat)' : ''} at ${rate} req/s: ${out.passed ? 'pass' : 'fail'} (run ${runId})`);
    return out;
  }

  /** Highest rate meeting the SLOs, searched from `start`. */
  async maxRate(d: DesignSpec, c: Counts, start: number): Promise<SearchResult> {
    const { result } = await drive(escalatingSearch(start, { tolerance: this.o.tolerance ?? 0.05, growth: 1.4, quantum: 0.1 }), (r) => this.passesAt(d, c, r));
    return result;
  }
}

/** The trace, model and run fields of a provisioning search are a sim's; the rest is the search's. */
export interface ProvisionOptions extends Pick<SimOptions, 'trace' | 'traceFormat' | 'lenient' | 'transforms' | 'model' | 'compat' | 'seed' | 'db' | 'json'> {
  readonly design: DesignSpec;
  readonly objective: Objective;
  readonly budgetLike: { design: DesignSpec; counts: Counts };
  readonly slo: string;
  readonly rate: number;
  readonly durationS: number;
  readonly maxMachines: number;
  readonly tolerance: number;
}

/** The checked flags of `provision` (PROVISION_FLAGS) and the rules between them, every problem (those in `p` too) at once. */
export function resolveProvisionOptions(f: ProvisionFlags, p = new Problems()): ProvisionOptions {
  const design = f.design === undefined ? undefined : DESIGNS[f.design];
  if (f.design !== undefined && !design) p.add('--design', `unknown design '${f.design}'; known: ${DESIGN_NAMES.join(', ')}`);
  const objective = f.objective;
  if (objective !== undefined && !(OBJECTIVES as readonly string[]).includes(objective))
    p.add('--objective', `unknown objective '${objective}'; known: ${OBJECTIVES.join(', ')}`);
  const budgetLike = p.try(() => parseBudgetLike(f.budgetLike));
  const t = searchTrace(f);
  const o: ProvisionOptions = Object.freeze({
    ...t,
    design: design ?? DESIGNS['splitwise-hh']!,
    objective: (objective ?? 'iso-power') as Objective,
    budgetLike: budgetLike ?? { design: DESIGNS['baseline-h100']!, counts: { mixed: 40 } },
    slo: f.slo,
    rate: f.rate ?? 1,
    durationS: f.duration,
    maxMachines: f.maxMachines,
    model: f.model,
    compat: compatMode(f.compat, p),
    seed: t.transforms.seed ?? SIM_DEFAULTS.seed,
    db: checkStore(f.db, p),
    tolerance: f.tolerance,
    json: f.json === true,
  });
  p.throwIfAny('provision');
  return o;
}

export interface Candidate {
  readonly config: string;
  readonly counts: Counts;
  readonly power: number;
  readonly cost: number;
  /** iso objectives: max rate meeting the SLOs; cost/power-opt: the rate asked when it passed. */
  readonly maxRate?: number;
  readonly passed?: boolean;
}

export interface ProvisionResult {
  readonly design: string;
  readonly objective: Objective;
  readonly budget: { readonly like: string; readonly power: number; readonly cost: number };
  readonly reference?: Candidate;
  readonly candidates: readonly Candidate[];
  readonly winner?: Candidate;
  readonly ratios?: { readonly throughput?: number; readonly power: number; readonly cost: number };
  readonly sims: number;
  readonly exitCode: number;
}

/** `provision`: the search, its runs simulated with `data` (loaded at the edge: src/config `simEngineData`). */
export async function runProvision(
  o: ProvisionOptions,
  makeRunner: RateRunnerFactory,
  data: EngineData,
  io: { log?: (l: string) => void } = {},
): Promise<ProvisionResult> {
  const log = io.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const tag = crypto.randomBytes(4).toString('hex');
  return withEvaluators(o, makeRunner, data, { provision: tag, objective: o.objective }, log, (make) => provisionSearch(make(), o, data.catalog, log));
}

/**
 * Open what evaluating configurations needs (SLO file, the trace's size sampler, the store) once, and hand
 * `fn` a maker of Evaluators over it (a fresh one has an empty cache and counts its own simulations), each
 * rate run by `makeRunner`'s runner with `data`.
 */
export async function withEvaluators<T>(
  o: ProvisionOptions,
  makeRunner: RateRunnerFactory,
  data: EngineData,
  tags: Record<string, string>,
  log: (l: string) => void,
  fn: (make: () => Evaluator) => Promise<T>,
): Promise<T> {
  const slo = loadSlo(o.slo);
  const { sampler, source } = await traceSampler(
    { trace: o.trace, format: o.traceFormat, lenient: o.lenient, transforms: o.transforms },
    o.seed,
    bundledTraceSizes,
  );
  const store = openStore(o.db);
  try {
    const runner = evaluatorRunner(makeRunner, { store, data, sampler, durationS: o.durationS, seed: o.seed, compat: o.compat, tracePath: source.path });
    const make = (): Evaluator =>
      new Evaluator({
        store,
        runner,
        slo,
        compat: o.compat,
        ...(o.model ? { model: o.model } : {}),
        tags,
        tolerance: o.tolerance,
        log,
      });
    return await fn(make);
  } finally {
    store.close();
  }
}

type SearchShape = Pick<ProvisionOptions, 'design' | 'objective' | 'budgetLike' | 'rate' | 'maxMachines'>;

const isIso = (objective: Objective): boolean => objective === 'iso-power' || objective === 'iso-cost';

/** The budget line of an iso objective: the most of the budget's unit (power or cost) each machine takes. */
function budgetLine(o: SearchShape, cat: Catalog): { budget: number; unit: (machine: string) => number } {
  const refP = provisioned(o.budgetLike.design, o.budgetLike.counts, cat);
  const power = o.objective === 'iso-power' || o.objective === 'power-opt';
  return { budget: power ? refP.power : refP.cost, unit: (m) => (power ? cat.machine(m).powerUnits : cat.machine(m).pricePerHour) };
}

/** Split design on the budget line: the largest prompt count that leaves one token machine, and the token count for P. */
function splitLine(o: SearchShape, cat: Catalog): { pMax: number; tFor: (pp: number) => number } {
  const d = o.design;
  const { budget, unit } = budgetLine(o, cat);
  const uP = unit(d.prompt!);
  const uT = unit(d.token!);
  const pMax = Math.floor((budget - uT) / uP + 1e-9);
  if (pMax < 1) throw new ConfigError(`the budget (${budget}) does not buy one prompt and one token machine of ${d.name}`, { path: '--budget-like' });
  return { pMax, tFor: (pp) => Math.floor((budget - pp * uP) / uT + 1e-9) };
}

function monolithicLine(o: SearchShape, cat: Catalog): number {
  const { budget, unit } = budgetLine(o, cat);
  const n = Math.floor(budget / unit(o.design.machine!) + 1e-9);
  if (n < 1) throw new ConfigError(`the budget (${budget}) does not buy one ${o.design.machine}`, { path: '--budget-like' });
  return n;
}

/**
 * Every candidate of an exhaustive provisioning (a distributed `provision --plan`), in table order:
 * iso objectives: each configuration on the budget line (P = 1.., as many token machines as the rest buys),
 * each judged by its own max-throughput search; cost-opt/power-opt: every configuration of at most
 * --max-machines machines (P ascending, then T), each judged by one run at --rate.
 */
export function provisionCandidates(
  o: SearchShape,
  cat: Catalog,
): { work: 'max-rate' | 'passes'; reference?: { design: DesignSpec; counts: Counts }; candidates: Counts[] } {
  const d = o.design;
  const out: Counts[] = [];
  if (isIso(o.objective)) {
    if (d.kind === 'monolithic') out.push({ mixed: monolithicLine(o, cat) });
    else {
      const { pMax, tFor } = splitLine(o, cat);
      for (let pp = 1; pp <= pMax; pp++) out.push({ prompt: pp, token: tFor(pp) });
    }
    return { work: 'max-rate', reference: { design: o.budgetLike.design, counts: o.budgetLike.counts }, candidates: out };
  }
  if (d.kind === 'monolithic') for (let n = 1; n <= o.maxMachines; n++) out.push({ mixed: n });
  else for (let pp = 1; pp < o.maxMachines; pp++) for (let tt = 1; pp + tt <= o.maxMachines; tt++) out.push({ prompt: pp, token: tt });
  return { work: 'passes', candidates: out };
}

/** A table row of a configuration of the design (power and cost from the machine catalog). */
export function candidateOf(d: DesignSpec, c: Counts, cat: Catalog, extra: Partial<Candidate> = {}): Candidate {
  const pc = provisioned(d, c, cat);
  return { config: countsLabel(d, c), counts: c, power: pc.power, cost: pc.cost, ...extra };
}

/**
 * The best of fully evaluated candidates: iso objectives the highest max rate; cost-opt/power-opt the least
 * cost/power among those that pass. Ties go to the first in table order (what the searches pick).
 */
export function pickWinner(objective: Objective, candidates: readonly Candidate[]): Candidate | undefined {
  let w: Candidate | undefined;
  const measure = (c: Candidate): number => (objective === 'power-opt' ? c.power : c.cost);
  for (const c of candidates) {
    if (isIso(objective)) {
      if (c.maxRate !== undefined && (!w || c.maxRate > w.maxRate!)) w = c;
    } else if (c.passed && (!w || measure(c) < measure(w))) w = c;
  }
  return w;
}

/** The result of a search or a plan: the winner's ratios to the reference cluster, the exit code. */
export function finishProvision(
  o: SearchShape,
  cat: Catalog,
  found: { reference?: Candidate | undefined; candidates: readonly Candidate[]; winner?: Candidate | undefined; sims: number },
): ProvisionResult {
  const refP = provisioned(o.budgetLike.design, o.budgetLike.counts, cat);
  const like = `${o.budgetLike.design.name}:${countsLabel(o.budgetLike.design, o.budgetLike.counts)}`;
  const { reference, winner } = found;
  let ratios: ProvisionResult['ratios'];
  if (winner) {
    ratios = {
      ...(winner.maxRate !== undefined && reference?.maxRate ? { throughput: winner.maxRate / reference.maxRate } : {}),
      power: winner.power / refP.power,
      cost: winner.cost / refP.cost,
    };
  }
  return {
    design: o.design.name,
    objective: o.objective,
    budget: { like, power: refP.power, cost: refP.cost },
    ...(reference ? { reference } : {}),
    candidates: found.candidates,
    ...(winner ? { winner } : {}),
    ...(ratios ? { ratios } : {}),
    sims: found.sims,
    exitCode: winner ? ExitCode.ok : ExitCode.sloFailed,
  };
}

/** The coarse-to-fine (iso) or staircase (cost/power-opt) search; power and cost from the machine catalog `cat`. */
export async function provisionSearch(ev: Evaluator, o: SearchShape, cat: Catalog, log: (l: string) => void): Promise<ProvisionResult> {
  const d = o.design;
  const refP = provisioned(o.budgetLike.design, o.budgetLike.counts, cat);
  const like = `${o.budgetLike.design.name}:${countsLabel(o.budgetLike.design, o.budgetLike.counts)}`;
  const measure = (c: Counts): number =>
    o.objective === 'iso-power' || o.objective === 'power-opt' ? provisioned(d, c, cat).power : provisioned(d, c, cat).cost;
  const candidates: Candidate[] = [];
  const cand = (c: Counts, extra: Partial<Candidate>): Candidate => {
    const x = candidateOf(d, c, cat, extra);
    candidates.push(x);
    return x;
  };
  let winner: Candidate | undefined;
  let reference: Candidate | undefined;
  if (o.objective === 'iso-power' || o.objective === 'iso-cost') {
    const budget = o.objective === 'iso-power' ? refP.power : refP.cost;
    log(`provision ${d.name} ${o.objective}: budget ${budget.toFixed(1)} ${o.objective === 'iso-power' ? 'power units' : '$/h'} (like ${like})`);
    const refRes = await ev.maxRate(o.budgetLike.design, o.budgetLike.counts, o.rate);
    reference = {
      config: like,
      counts: o.budgetLike.counts,
      power: refP.power,
      cost: refP.cost,
      ...(refRes.maxRate === undefined ? {} : { maxRate: refRes.maxRate }),
    };
    let start = refRes.maxRate ?? o.rate;
    const evalCounts = async (c: Counts): Promise<number> => {
      const r = await ev.maxRate(d, c, start);
      cand(c, r.maxRate === undefined ? {} : { maxRate: r.maxRate });
      if (r.maxRate !== undefined) start = r.maxRate;
      return r.maxRate ?? 0;
    };
    if (d.kind === 'monolithic') {
      await evalCounts({ mixed: monolithicLine(o, cat) });
    } else {
      const { pMax, tFor } = splitLine(o, cat);
      const score = new Map<number, number>();
      const at = async (pp: number): Promise<number> => {
        pp = Math.max(1, Math.min(pMax, pp));
        if (!score.has(pp)) score.set(pp, await evalCounts({ prompt: pp, token: tFor(pp) }));
        return score.get(pp)!;
      };
      // Coarse grid over P, then halve the step around the best.
      let step = Math.max(1, Math.ceil(pMax / 6));
      for (let pp = Math.max(1, Math.round(step / 2)); pp <= pMax; pp += step) await at(pp);
      while (step > 1) {
        const best = [...score].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0]![0];
        step = Math.max(1, Math.floor(step / 2));
        await at(best - step);
        await at(best + step);
      }
    }
    for (const c of candidates) if (c.maxRate !== undefined && (!winner || c.maxRate > winner.maxRate!)) winner = c;
  } else {
    // cost-opt / power-opt at rate R.
    log(`provision ${d.name} ${o.objective}: least ${o.objective === 'cost-opt' ? 'cost' : 'power'} meeting the SLOs at ${o.rate} req/s`);
    const pass = async (c: Counts): Promise<boolean> => {
      const r = await ev.passesAt(d, c, o.rate);
      cand(c, { passed: r.passed });
      return r.passed;
    };
    const better = (c: Counts): boolean => !winner || measure(c) < measure(winner.counts);
    if (d.kind === 'monolithic') {
      // Smallest N that passes: bisection on N in [1, max].
      let lo = 0;
      let hi = o.maxMachines;
      if (!(await pass({ mixed: hi }))) hi = -1;
      while (hi > 0 && hi - lo > 1) {
        const mid = (lo + hi) >> 1;
        if (await pass({ mixed: mid })) hi = mid;
        else lo = mid;
      }
      if (hi > 0) winner = candidates.find((c) => c.counts.mixed === hi);
    } else {
      // Staircase: P up, T down; passing is monotone in both counts.
      let pp = 1;
      let tt = o.maxMachines - 1;
      while (pp <= o.maxMachines - 1 && tt >= 1) {
        if (pp + tt > o.maxMachines) {
          tt = o.maxMachines - pp;
          continue;
        }
        // Prune: with this many prompt machines, even one token machine costs more than the best.
        if (winner && !better({ prompt: pp, token: 1 })) break;
        if (await pass({ prompt: pp, token: tt })) {
          if (better({ prompt: pp, token: tt })) winner = candidates[candidates.length - 1];
          tt--;
        } else pp++;
      }
    }
  }
  return finishProvision(o, cat, { reference, candidates, winner, sims: ev.sims });
}

export function formatProvision(r: ProvisionResult): string {
  const iso = r.objective === 'iso-power' || r.objective === 'iso-cost';
  const rows: string[][] = [['config', 'power units', 'cost $/h', iso ? 'max req/s' : 'meets SLO']];
  if (r.reference)
    rows.push([`${r.reference.config} (reference)`, r.reference.power.toFixed(1), r.reference.cost.toFixed(2), r.reference.maxRate?.toFixed(2) ?? 'none']);
  for (const c of r.candidates) {
    rows.push([
      c.config + (c === r.winner ? '  <- winner' : ''),
      c.power.toFixed(1),
      c.cost.toFixed(2),
      iso ? (c.maxRate?.toFixed(2) ?? 'none') : c.passed ? 'yes' : 'no',
    ]);
  }
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((x) => x[i]!.length)));
  const lines = rows.map((x) => x.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  '));
  if (r.winner) {
    const ra = r.ratios!;
    lines.push(
      `winner: ${r.design} ${r.winner.config}: ${iso ? `${r.winner.maxRate} req/s, ` : ''}power ${r.winner.power.toFixed(1)} units (${ra.power.toFixed(2)}x of ${r.budget.like}), cost $${r.winner.cost.toFixed(2)}/h (${ra.cost.toFixed(2)}x)${ra.throughput !== undefined ? `, throughput ${ra.throughput.toFixed(2)}x` : ''}; ${r.sims} simulations`,
    );
  } else lines.push(`no configuration of ${r.design} met the SLOs (${r.sims} simulations)`);
  return lines.join('\n');
}
