/**
 * Distributed provisioning: `provision --plan FILE` writes its work as a manifest of units, on the sweep
 * plans' machinery (plan.ts): one unit per configuration, named by a hash of what decides its answer
 * (configuration, run settings, trace sha256, splitbench version).
 *
 * - iso-power / iso-cost: the reference cluster and every configuration on the budget line; a unit is that
 *   configuration's max-throughput search (escalation from --rate, then bisection).
 * - cost-opt / power-opt: every configuration of at most --max-machines machines; a unit is "does it meet
 *   the SLOs at --rate" (one run).
 *
 * Each unit runs whole in one process on its own evaluator (deterministic for a seed), so `--chunk k/K`
 * slices on different hosts, a rerun of a killed chunk (done units skipped) and `--collect` give the same
 * table and winner as the whole plan in one process. The table is every candidate of the plan, in plan
 * order; ties go to the first.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, ExitCode } from '../errors.js';
import type { Catalog } from '../engine/index.js';
import type { Candidate, Counts, ProvisionOptions, ProvisionResult, RateVerdict } from '../sim/index.js';
import { VERSION } from '../version.js';
import {
  chunkOf,
  configKey,
  planWorkload,
  copyDbTarget,
  loadPlanOf,
  PLAN_FORMAT,
  publishStore,
  readUnits,
  runUnits,
  samePlan,
  savePlan,
  type ChunkSpec,
  type PlanFile,
} from './plan.js';

export type ProvisionWork = 'max-rate' | 'passes';

export interface ProvisionItem {
  readonly key: string;
  /** Design of the configuration (the reference's may differ from --design). */
  readonly design: string;
  readonly config: string;
  readonly counts: Counts;
  readonly work: ProvisionWork;
}

export interface ProvisionPlan extends PlanFile {
  readonly kind: 'provision';
  readonly items: readonly ProvisionItem[];
  /** Key of the reference cluster's unit (iso objectives). */
  readonly reference?: string;
  /** Keys of the table's rows, in order (a candidate equal to the reference shares its unit). */
  readonly candidates: readonly string[];
}

/** One unit's answer, as `FILE.results/<key>.json`. */
export interface ProvisionUnitResult {
  readonly key: string;
  readonly design: string;
  readonly config: string;
  readonly work: ProvisionWork;
  /** max-rate: the search's answer (null: no rate passed) and what it tried. */
  readonly maxRate?: number | null;
  readonly firstFail?: number | null;
  readonly tried?: readonly RateVerdict[];
  /** passes: the verdict at --rate. */
  readonly passed?: boolean;
  readonly throughput?: number;
  readonly sims: number;
  /** Where the runs are (the chunk's store) — informative; not part of the answer. */
  readonly db: string;
  readonly runIds: readonly number[];
}

/** The plan of `o`'s search; power and cost of the candidates from the machine catalog `cat`. */
export async function buildProvisionPlan(o: ProvisionOptions, cat: Catalog): Promise<ProvisionPlan> {
  const sim = await import('../sim/index.js');
  const { traceSha256, workload } = await planWorkload(o);
  const like = `${o.budgetLike.design.name}:${sim.countsLabel(o.budgetLike.design, o.budgetLike.counts)}`;
  // What decides a unit's answer, besides its configuration.
  const run = {
    ...workload,
    slo: o.slo,
    seed: o.seed,
    durationS: o.durationS,
    rate: o.rate,
  };
  const base = { ...run, design: o.design.name, objective: o.objective, budgetLike: like, maxMachines: o.maxMachines, tolerance: o.tolerance };
  const grid = sim.provisionCandidates(o, cat);
  const items: ProvisionItem[] = [];
  const keyOf = (design: string, counts: Counts, config: string): string => {
    const key = configKey({ ...run, work: grid.work, ...(grid.work === 'max-rate' ? { tolerance: o.tolerance } : {}), design, counts }, traceSha256);
    if (!items.some((it) => it.key === key)) items.push({ key, design, config, counts, work: grid.work });
    return key;
  };
  const reference = grid.reference ? keyOf(grid.reference.design.name, grid.reference.counts, like) : undefined;
  const candidates = grid.candidates.map((c) => keyOf(o.design.name, c, sim.countsLabel(o.design, c)));
  return {
    format: PLAN_FORMAT,
    kind: 'provision',
    splitbenchVersion: VERSION,
    traceSha256,
    base,
    items,
    ...(reference ? { reference } : {}),
    candidates,
  };
}

const label = (it: ProvisionItem): string => `${it.design} ${it.config}`;

/** The provisioning answer from every unit's result: the same as one process evaluating the whole plan. */
export async function collectProvisionPlan(planFile: string, plan: ProvisionPlan, o: ProvisionOptions, cat: Catalog): Promise<ProvisionResult> {
  const sim = await import('../sim/index.js');
  const results = readUnits<ProvisionItem, ProvisionUnitResult>(planFile, plan.items, label);
  const byKey = new Map(results.map((r, i) => [plan.items[i]!.key, r]));
  const iso = o.objective === 'iso-power' || o.objective === 'iso-cost';
  const rowOf = (key: string): Partial<Candidate> => {
    const r = byKey.get(key)!;
    if (iso) return r.maxRate === null || r.maxRate === undefined ? {} : { maxRate: r.maxRate };
    return { passed: r.passed === true };
  };
  const candidates = plan.candidates.map((key) => {
    const it = plan.items.find((x) => x.key === key)!;
    return sim.candidateOf(o.design, it.counts, cat, rowOf(key));
  });
  let reference: Candidate | undefined;
  if (plan.reference !== undefined) {
    const it = plan.items.find((x) => x.key === plan.reference)!;
    const p = sim.provisioned(o.budgetLike.design, it.counts, cat);
    reference = { config: String(plan.base.budgetLike), counts: it.counts, power: p.power, cost: p.cost, ...rowOf(it.key) };
  }
  const sims = results.reduce((n, r) => n + r.sims, 0);
  return sim.finishProvision(o, cat, { reference, candidates, winner: sim.pickWinner(o.objective, candidates), sims });
}

export interface ProvisionPlanRun {
  readonly exitCode: number;
  /** The merged answer (plain --plan, or --collect). */
  readonly result?: ProvisionResult;
  readonly chunk?: ChunkSpec;
  readonly units: number;
  readonly ran: readonly string[];
  readonly skipped: readonly string[];
}

/** `provision --plan FILE [--chunk k/K | --collect]`. */
export async function runProvisionPlan(
  argv: Record<string, unknown>,
  log: (l: string) => void = (l) => process.stderr.write(`${l}\n`),
): Promise<ProvisionPlanRun> {
  const planFile = String(argv.plan);
  const copyTo = copyDbTarget(argv);
  const sim = await import('../sim/index.js');
  const o = sim.resolveProvisionOptions(argv);
  // The catalogs and profiles, read here (the simulator reads no file).
  const data = (await import('../config/index.js')).simEngineData(o.compat);
  const plan = await buildProvisionPlan(o, data.catalog);
  if (argv.collect) {
    if (argv.chunk !== undefined) throw new ConfigError('--collect merges finished chunks; it runs none (drop --chunk)', { path: '--collect' });
    if (!existsSync(planFile))
      throw new ConfigError('no such plan: nothing to collect', { path: planFile, hint: 'run the chunks first (`provision ... --plan FILE --chunk k/K`)' });
    if (!samePlan(loadPlanOf<ProvisionPlan>(planFile, 'provision'), plan)) {
      throw new ConfigError('holds another plan (different flags, trace or splitbench version) than these flags make', {
        path: planFile,
        hint: 'give the same flags as the chunks',
      });
    }
    const result = await collectProvisionPlan(planFile, plan, o, data.catalog);
    return { exitCode: result.exitCode, result, units: plan.items.length, ran: [], skipped: [] };
  }
  const chunk = chunkOf(argv);
  const dbNamed = copyTo ?? path.resolve(o.db);
  savePlan(planFile, plan);
  log(
    `plan ${path.basename(planFile)}: ${o.design.name} ${o.objective}: ${plan.candidates.length} candidates, ${plan.items.length} units; this process runs chunk ${chunk.index}/${chunk.count}`,
  );
  const tags = {
    provision: plan.items.length > 0 ? configKey(plan.base, plan.traceSha256).slice(0, 8) : 'empty',
    objective: o.objective,
    plan: path.basename(planFile),
  };
  const { ran, skipped } = await sim.withEvaluators(o, sim.simRateRunner, data, tags, log, (make) =>
    runUnits(
      planFile,
      plan.items,
      chunk,
      label,
      async (it): Promise<ProvisionUnitResult> => {
        const design = sim.DESIGNS[it.design]!;
        const ev = make();
        const common = { key: it.key, design: it.design, config: it.config, work: it.work };
        if (it.work === 'max-rate') {
          const r = await ev.maxRate(design, it.counts, o.rate);
          return { ...common, maxRate: r.maxRate ?? null, firstFail: r.firstFail ?? null, tried: r.tried, sims: ev.sims, db: dbNamed, runIds: [...ev.runIds] };
        }
        const r = await ev.passesAt(design, it.counts, o.rate);
        return {
          ...common,
          passed: r.passed,
          ...(r.throughput !== undefined ? { throughput: r.throughput } : {}),
          sims: ev.sims,
          db: dbNamed,
          runIds: [...ev.runIds],
        };
      },
      log,
    ),
  );
  if (copyTo !== undefined) {
    await publishStore(o.db, copyTo);
    log(`plan ${path.basename(planFile)}: chunk ${chunk.index}/${chunk.count}: store copied to ${copyTo}`);
  }
  if (argv.chunk !== undefined) return { exitCode: ExitCode.ok, chunk, units: plan.items.length, ran, skipped };
  const result = await collectProvisionPlan(planFile, plan, o, data.catalog);
  return { exitCode: result.exitCode, result, units: plan.items.length, ran, skipped };
}
