/**
 * `splitbench experiment splitwise`: the Splitwise paper's evaluation (section 6) end to end. The six designs
 * provisioned iso-power and iso-cost with the paper's published configurations (the Splitwise notes, 1.2:
 * the plotting notebook's machine counts), each design's max throughput under the nine SLOs
 * (workloads/slo/splitwise.yaml) found by an escalating rate search + bisection on Poisson traces whose
 * sizes are drawn from the trace, in the SplitwiseSim-compatible mode, the realistic mode or both; then
 * throughput, provisioned cost and power normalized to Baseline-A100 of the same provisioning, as
 * Markdown, CSV, JSON and bar charts.
 *
 * `--quick` scales every cluster down five-fold (at least one machine per pool), uses 30-second traces and
 * a coarser bisection: for tests and smoke runs, not for conclusions. `--duration S` sets the Poisson
 * traces' length (default 120 s; the paper's are 600 s).
 *
 * The paper's headline ratios (section 6.2) are set beside the same ratios computed from the table
 * (`paperRatios`).
 */
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../errors.js';
import type { EngineData } from '../engine/index.js';
import { loadSlo } from '../metrics/index.js';
import { openStore } from '../store/index.js';
import type { CompatMode } from './cluster.js';
import { Problems } from '../flagspec.js';
import { type ExperimentFlags, parseSeeds } from './options.js';
import { bundledTraceSizes } from '../config/snapshot.js';
import { traceSampler } from '../trace/index.js';
import { DESIGNS, Evaluator, countsLabel, evaluatorRunner, provisionSearch, provisioned, type Counts, type DesignSpec } from './provision.js';
import type { RateRunnerFactory } from './sweep.js';

type TraceName = 'coding' | 'conversation';
type Provisioning = 'iso-power' | 'iso-cost';

/**
 * The paper's configurations (plots notebook; the Splitwise notes 1.2), per design: [prompt, token] or
 * [machines] for conversation iso-power, conversation iso-cost, coding iso-power, coding iso-cost.
 */
const PAPER_TABLE: Readonly<Record<string, readonly (readonly number[])[]>> = {
  'baseline-a100': [[70], [86], [70], [86]],
  'baseline-h100': [[40], [40], [40], [40]],
  'splitwise-aa': [
    [45, 25],
    [51, 35],
    [55, 15],
    [66, 20],
  ],
  'splitwise-hh': [
    [25, 15],
    [25, 15],
    [35, 5],
    [35, 5],
  ],
  'splitwise-ha': [
    [25, 26],
    [30, 21],
    [35, 8],
    [35, 10],
  ],
  'splitwise-hhcap': [
    [25, 21],
    [30, 10],
    [35, 7],
    [35, 7],
  ],
};
const paperColumn = (i: number): Record<string, readonly number[]> => Object.fromEntries(Object.entries(PAPER_TABLE).map(([d, v]) => [d, v[i]!]));

/** The paper's configurations by trace, provisioning and design. */
export const PAPER_CONFIGS: Readonly<Record<TraceName, Record<Provisioning, Record<string, readonly number[]>>>> = {
  conversation: { 'iso-power': paperColumn(0), 'iso-cost': paperColumn(1) },
  coding: { 'iso-power': paperColumn(2), 'iso-cost': paperColumn(3) },
};

const DESIGN_ORDER = ['baseline-a100', 'baseline-h100', 'splitwise-aa', 'splitwise-hh', 'splitwise-ha', 'splitwise-hhcap'];
const MODES = ['compat', 'realistic'] as const;
type Mode = (typeof MODES)[number];

export interface ExperimentOptions {
  readonly trace: TraceName;
  readonly out: string;
  readonly modes: readonly Mode[];
  readonly quick: boolean;
  /** Length of each rate's Poisson trace, seconds. */
  readonly durationS: number;
  readonly seed: number;
  /** Seeds to repeat every search with (default [seed]); rows then carry the mean and min–max. */
  readonly seeds?: readonly number[];
  readonly json: boolean;
}

/** Checks the flags of `experiment` (EXPERIMENT_FLAGS), every problem at once. */
export function resolveExperimentOptions(name: string, f: ExperimentFlags, p = new Problems()): ExperimentOptions {
  if (name !== 'splitwise') p.addFirst('EXPERIMENT', `unknown experiment '${name}'; known: splitwise`);
  const quick = f.quick === true;
  const seeds = p.try(() => parseSeeds(f.seeds, f.seed));
  const o: ExperimentOptions = Object.freeze({
    trace: f.trace,
    out: f.out ?? path.join('results', `splitwise-${f.trace}`),
    modes: f.mode === 'both' ? MODES : [f.mode],
    quick,
    durationS: f.duration ?? (quick ? 30 : 120),
    seed: f.seed,
    ...(seeds ? { seeds: Object.freeze(seeds) } : {}),
    json: f.json === true,
  });
  p.throwIfAny('experiment');
  return o;
}

export interface ExperimentRow {
  readonly mode: Mode;
  readonly provisioning: Provisioning;
  readonly design: string;
  readonly config: string;
  readonly machines: number;
  readonly power: number;
  readonly cost: number;
  readonly maxRate: number | null;
  /** Normalized to Baseline-A100 of the same mode and provisioning. */
  readonly throughputX: number | null;
  /** With several seeds: how many found a passing rate, and the min and max of their max rates. */
  readonly seeds?: number;
  readonly maxRateMin?: number | null;
  readonly maxRateMax?: number | null;
  /** The SLO rule that binds first: the most violated one at the lowest failing rate (null: none failed). */
  readonly binding?: string | null;
  readonly powerX: number;
  readonly costX: number;
}

export interface ExperimentResult {
  readonly trace: TraceName;
  readonly quick: boolean;
  readonly durationS: number;
  readonly rows: readonly ExperimentRow[];
  readonly ratios: readonly PaperRatio[];
  readonly powerOpt: readonly PowerOptResult[];
  readonly files: readonly string[];
  readonly sims: number;
  readonly wallS: number;
}

function countsOf(d: DesignSpec, v: readonly number[], quick: boolean): Counts {
  const s = (n: number): number => (quick ? Math.max(1, Math.round(n / 5)) : n);
  return d.kind === 'monolithic' ? { mixed: s(v[0]!) } : { prompt: s(v[0]!), token: s(v[1]!) };
}

/** The experiment, its runs simulated with `data` (loaded at the edge, SplitwiseSim's rows included for the compat mode). */
export async function runExperiment(
  o: ExperimentOptions,
  makeRunner: RateRunnerFactory,
  data: EngineData,
  io: { log?: (l: string) => void } = {},
): Promise<ExperimentResult> {
  const log = io.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const t0 = performance.now();
  try {
    fs.mkdirSync(o.out, { recursive: true });
  } catch (e) {
    throw new ConfigError(`cannot create ${o.out}: ${(e as Error).message}`, { path: '--out' });
  }
  const slo = loadSlo('splitwise');
  const { sampler, source } = await traceSampler({ trace: o.trace }, o.seed, bundledTraceSizes);
  const dbPath = path.join(o.out, 'experiment.db');
  for (const f of [dbPath, `${dbPath}-wal`, `${dbPath}-shm`]) fs.rmSync(f, { force: true });
  const store = openStore(dbPath);
  const rows: ExperimentRow[] = [];
  const powerOpt: PowerOptResult[] = [];
  let sims = 0;
  const seeds = o.seeds ?? [o.seed];
  // Per seed and mode its own evaluator (its own Poisson traces, an empty cache).
  const evaluator = (seed: number, compat: CompatMode, tags: Record<string, string>): Evaluator =>
    new Evaluator({
      store,
      runner: evaluatorRunner(makeRunner, { store, data, sampler, durationS: o.durationS, seed, compat, tracePath: source.path }),
      slo,
      compat,
      tags,
      tolerance: o.quick ? 0.15 : 0.05,
      log,
    });
  try {
    for (const mode of o.modes) {
      const compat: CompatMode = mode === 'compat' ? 'splitwise' : undefined;
      // Per seed its own evaluator (its own Poisson traces); per design the max rates over the seeds.
      const rates = new Map<string, { rates: (number | undefined)[]; binding: string | null }>();
      for (const seed of seeds) {
        const ev = evaluator(seed, compat, { experiment: 'splitwise', mode, trace: o.trace, ...(seeds.length > 1 ? { seed: String(seed) } : {}) });
        const done = new Set<string>();
        for (const prov of ['iso-power', 'iso-cost'] as const) {
          for (const name of DESIGN_ORDER) {
            const d = DESIGNS[name]!;
            const c = countsOf(d, PAPER_CONFIGS[o.trace][prov][name]!, o.quick);
            const key = `${name}|${countsLabel(d, c)}`;
            if (done.has(key)) continue;
            done.add(key);
            const pc = provisioned(d, c, data.catalog);
            // Start near what the paper's clusters sustain: ~1 req/s per machine (coding), ~0.6 (conversation).
            const start = Math.max(0.5, pc.machines * (o.trace === 'coding' ? 1 : 0.6));
            log(`experiment splitwise (${mode}${seeds.length > 1 ? `, seed ${seed}` : ''}): ${name} ${countsLabel(d, c)}`);
            const res = await ev.maxRate(d, c, start);
            const entry = rates.get(key) ?? { rates: [], binding: null };
            rates.set(key, entry);
            entry.rates.push(res.maxRate);
            // The first seed's lowest failing rate names the binding rule (a cached outcome: no new run).
            if (entry.rates.length === 1 && res.firstFail !== undefined) entry.binding = bindingRule(store, (await ev.passesAt(d, c, res.firstFail)).runId);
          }
        }
        sims += ev.sims;
      }
      for (const prov of ['iso-power', 'iso-cost'] as const) {
        for (const name of DESIGN_ORDER) {
          const d = DESIGNS[name]!;
          const c = countsOf(d, PAPER_CONFIGS[o.trace][prov][name]!, o.quick);
          const e = rates.get(`${name}|${countsLabel(d, c)}`)!;
          const ok = e.rates.filter((v): v is number => v !== undefined);
          const mean = ok.length === 0 ? null : Number((ok.reduce((a, b) => a + b, 0) / ok.length).toFixed(4));
          const pc = provisioned(d, c, data.catalog);
          rows.push({
            mode,
            provisioning: prov,
            design: name,
            config: countsLabel(d, c),
            machines: pc.machines,
            power: pc.power,
            cost: pc.cost,
            maxRate: mean,
            throughputX: null,
            powerX: 1,
            costX: 1,
            binding: e.binding,
            ...(seeds.length > 1 ? { seeds: ok.length, maxRateMin: ok.length ? Math.min(...ok) : null, maxRateMax: ok.length ? Math.max(...ok) : null } : {}),
          });
        }
      }
      // The paper's iso-throughput comparison (section 6.2): the least-power Splitwise-HHcap that meets the
      // SLOs at Baseline-H100's max rate, by provision's power-opt staircase (the first seed's traces).
      const h100 = rows.find((r) => r.mode === mode && r.provisioning === 'iso-power' && r.design === 'baseline-h100');
      if (h100?.maxRate) {
        const ev = evaluator(seeds[0]!, compat, { experiment: 'splitwise', mode, trace: o.trace, search: 'power-opt' });
        log(`experiment splitwise (${mode}): least-power splitwise-hhcap at ${h100.maxRate} req/s (Baseline-H100's max rate)`);
        const maxMachines = o.quick ? 16 : 80;
        const res = await provisionSearch(
          ev,
          {
            design: DESIGNS['splitwise-hhcap']!,
            objective: 'power-opt',
            budgetLike: { design: DESIGNS['baseline-h100']!, counts: { mixed: h100.machines } },
            rate: h100.maxRate,
            maxMachines,
          },
          data.catalog,
          log,
        );
        sims += ev.sims;
        const w = res.winner;
        powerOpt.push({
          mode,
          rate: h100.maxRate,
          maxMachines,
          sims: ev.sims,
          config: w?.config ?? null,
          power: w?.power ?? null,
          cost: w?.cost ?? null,
          powerX: w && res.ratios ? res.ratios.power : null,
          costX: w && res.ratios ? res.ratios.cost : null,
        });
      }
    }
  } finally {
    store.close();
  }
  // Normalize to Baseline-A100 of the same mode and provisioning.
  const norm = rows.map((r) => {
    const base = rows.find((b) => b.mode === r.mode && b.provisioning === r.provisioning && b.design === 'baseline-a100')!;
    return {
      ...r,
      throughputX: r.maxRate !== null && base.maxRate ? r.maxRate / base.maxRate : null,
      powerX: r.power / base.power,
      costX: r.cost / base.cost,
    };
  });
  const ratios = paperRatios(norm, powerOpt);
  const files = await writeOutputs(o, norm, ratios, powerOpt);
  return { trace: o.trace, quick: o.quick, durationS: o.durationS, rows: norm, ratios, powerOpt, files, sims, wallS: (performance.now() - t0) / 1000 };
}

/** The least-power Splitwise-HHcap meeting the SLOs at Baseline-H100's max rate (one per mode). */
export interface PowerOptResult {
  readonly mode: Mode;
  /** Baseline-H100's max rate, the rate to meet. */
  readonly rate: number;
  readonly maxMachines: number;
  readonly sims: number;
  /** The winner, or null when no configuration up to `maxMachines` machines met the SLOs. */
  readonly config: string | null;
  readonly power: number | null;
  readonly cost: number | null;
  /** Provisioned power and cost over Baseline-H100's. */
  readonly powerX: number | null;
  readonly costX: number | null;
}

/** One of the paper's headline comparisons, and the same ratio from this experiment's table. */
export interface PaperRatio {
  readonly mode: Mode;
  /** What is compared, in the paper's words. */
  readonly claim: string;
  /** The quantity the paper states: throughput or power. */
  readonly metric: 'throughput' | 'power';
  readonly paper: number;
  /** Ours: throughput ratio, or power ratio at equal throughput; null when a max rate is missing. */
  readonly ours: number | null;
  /** Provisioned cost ratio of the two clusters compared (ours; the paper's where it states one). */
  readonly costRatio: number;
  readonly paperCostRatio?: number;
  /** How `ours` was computed from the table. */
  readonly how: string;
}

/** The paper's throughput claims (section 6.2): design over base at the same provisioning. */
const THROUGHPUT_CLAIMS: readonly {
  provisioning: Provisioning;
  design: string;
  base: string;
  claim: string;
  paper: number;
  paperCostRatio?: number;
}[] = [
  { provisioning: 'iso-power', design: 'splitwise-aa', base: 'baseline-a100', claim: 'Splitwise-AA vs Baseline-A100, iso-power', paper: 2.15 },
  {
    provisioning: 'iso-power',
    design: 'splitwise-ha',
    base: 'baseline-h100',
    claim: 'Splitwise-HA vs Baseline-H100, iso-power',
    paper: 1.18,
    paperCostRatio: 0.9,
  },
  { provisioning: 'iso-cost', design: 'splitwise-aa', base: 'baseline-h100', claim: 'Splitwise-AA vs Baseline-H100, iso-cost', paper: 1.4 },
];

/**
 * The paper's ratios (section 6.2, iso-power and iso-cost figures) from the experiment's rows, per mode:
 * - Splitwise-AA vs Baseline-A100, iso-power: throughput ratio (paper 2.15x);
 * - Splitwise-HA vs Baseline-H100, iso-power: throughput ratio (paper 1.18x at 10% lower cost);
 * - Splitwise-AA vs Baseline-H100, iso-cost: throughput ratio (paper 1.4x);
 * - Splitwise-HHcap at Baseline-H100's throughput: power ratio (paper 0.75x, 25% less power), from the
 *   least-power HHcap configuration meeting the SLOs at Baseline-H100's max rate (`powerOpt`).
 */
export function paperRatios(rows: readonly ExperimentRow[], powerOpt: readonly PowerOptResult[] = []): PaperRatio[] {
  const out: PaperRatio[] = [];
  for (const mode of MODES) {
    const get = (prov: Provisioning, design: string): ExperimentRow | undefined =>
      rows.find((r) => r.mode === mode && r.provisioning === prov && r.design === design);
    const rate = (a?: ExperimentRow, b?: ExperimentRow): number | null => (a?.maxRate && b?.maxRate ? a.maxRate / b.maxRate : null);
    // Without Baseline-A100 (a partial table) the mode has no ratios.
    if (!get('iso-power', 'baseline-a100')) continue;
    for (const c of THROUGHPUT_CLAIMS) {
      const ours = get(c.provisioning, c.design);
      const base = get(c.provisioning, c.base);
      if (!ours || !base) continue;
      out.push({
        mode,
        claim: c.claim,
        metric: 'throughput',
        paper: c.paper,
        ours: rate(ours, base),
        costRatio: ours.cost / base.cost,
        ...(c.paperCostRatio === undefined ? {} : { paperCostRatio: c.paperCostRatio }),
        how: `max rate ${ours.config} / ${base.config}`,
      });
    }
    const po = powerOpt.find((x) => x.mode === mode);
    if (po) {
      out.push({
        mode,
        claim: "Splitwise-HHcap at Baseline-H100's throughput",
        metric: 'power',
        paper: 0.75,
        ours: po.powerX,
        costRatio: po.costX ?? NaN,
        how:
          po.config === null
            ? `no HHcap configuration of up to ${po.maxMachines} machines met the SLOs at ${po.rate} req/s`
            : `least-power HHcap meeting the SLOs at ${po.rate} req/s (Baseline-H100's max rate): ${po.config}, power over Baseline-H100's`,
      });
    }
  }
  return out;
}

export function ratiosMarkdown(ratios: readonly PaperRatio[]): string {
  if (ratios.length === 0) return '';
  const out = [
    "## The paper's ratios beside ours",
    '',
    '| mode | comparison | metric | paper | ours | cost ratio (ours) | how |',
    '|---|---|---|---:|---:|---:|---|',
  ];
  for (const r of ratios) {
    const cost = Number.isFinite(r.costRatio)
      ? `${r.costRatio.toFixed(2)}x${r.paperCostRatio === undefined ? '' : ` (paper ${r.paperCostRatio.toFixed(2)}x)`}`
      : 'n/a';
    out.push(`| ${r.mode} | ${r.claim} | ${r.metric} | ${r.paper.toFixed(2)}x | ${fx(r.ours)}x | ${cost} | ${r.how} |`);
  }
  out.push('');
  return out.join('\n');
}

const fx = (v: number | null, d = 2): string => (v === null ? 'n/a' : v.toFixed(d));

/** The failed rule of a run with the largest value/limit (the most violated), from its stored verdicts. */
function bindingRule(
  store: { sloResults(runId: number): readonly { rule: string; passed: boolean; value: number | null; limitValue: number | null }[] },
  runId: number,
): string | null {
  let best: { rule: string; r: number } | undefined;
  for (const v of store.sloResults(runId)) {
    if (v.passed) continue;
    const r = v.value !== null && v.limitValue !== null && v.limitValue > 0 ? v.value / v.limitValue : Infinity;
    if (!best || r > best.r) best = { rule: v.rule, r };
  }
  return best?.rule ?? null;
}

export function experimentMarkdown(
  o: Pick<ExperimentOptions, 'trace' | 'quick' | 'durationS'>,
  rows: readonly ExperimentRow[],
  ratios: readonly PaperRatio[] = paperRatios(rows),
): string {
  const out: string[] = [];
  out.push(`# Splitwise evaluation, ${o.trace} trace, ${o.durationS} s Poisson traces per rate${o.quick ? ' (quick: clusters / 5)' : ''}`, '');
  out.push(
    'Max throughput under the nine Splitwise SLOs; throughput, provisioned cost and power normalized to Baseline-A100 of the same mode and provisioning.',
    '',
  );
  for (const mode of MODES) {
    const mine = rows.filter((r) => r.mode === mode);
    if (mine.length === 0) continue;
    out.push(`## ${mode === 'compat' ? 'SplitwiseSim-compatible mode' : 'Realistic mode'}`, '');
    out.push('| provisioning | design | config | max req/s | throughput | cost | power |', '|---|---|---|---:|---:|---:|---:|');
    for (const r of mine)
      out.push(`| ${r.provisioning} | ${r.design} | ${r.config} | ${fx(r.maxRate)} | ${fx(r.throughputX)}x | ${fx(r.costX)}x | ${fx(r.powerX)}x |`);
    out.push('');
  }
  const ratioText = ratiosMarkdown(ratios);
  if (ratioText) out.push(ratioText);
  return out.join('\n');
}

export function experimentCsv(rows: readonly ExperimentRow[]): string {
  const head = 'mode,provisioning,design,config,machines,power_units,cost_per_hour,max_rate,throughput_x,cost_x,power_x';
  return `${[head, ...rows.map((r) => [r.mode, r.provisioning, r.design, r.config, r.machines, r.power, r.cost, r.maxRate ?? '', r.throughputX ?? '', r.costX, r.powerX].join(','))].join('\n')}\n`;
}

async function writeOutputs(
  o: ExperimentOptions,
  rows: readonly ExperimentRow[],
  ratios: readonly PaperRatio[],
  powerOpt: readonly PowerOptResult[],
): Promise<string[]> {
  const files: string[] = [];
  const write = (name: string, data: string | Buffer): void => {
    const f = path.join(o.out, name);
    fs.writeFileSync(f, data);
    files.push(f);
  };
  write('splitwise.md', experimentMarkdown(o, rows, ratios));
  write('splitwise.csv', experimentCsv(rows));
  write('splitwise.json', `${JSON.stringify({ trace: o.trace, quick: o.quick, durationS: o.durationS, rows, ratios, powerOpt }, null, 2)}\n`);
  // Figure 18 of the paper: max throughput per design, ratio to Baseline-A100 and the binding SLO.
  const { designFigure, designColors, writeFigure } = await import('../report/experiment.js');
  const colorOf = designColors(DESIGN_ORDER);
  for (const mode of o.modes) {
    for (const prov of ['iso-power', 'iso-cost'] as const) {
      const mine = rows.filter((r) => r.mode === mode && r.provisioning === prov);
      const bars = mine.map((r) => ({
        design: r.design,
        config: r.config,
        maxRate: r.maxRate,
        throughputX: r.throughputX,
        binding: r.binding ?? null,
        ...(r.seeds !== undefined ? { seeds: r.seeds, min: r.maxRateMin ?? null, max: r.maxRateMax ?? null } : {}),
      }));
      const seeds = o.seeds && o.seeds.length > 1 ? `, mean of ${o.seeds.length} seeds` : '';
      writeFigure(write, `splitwise-${mode}-${prov}`, designFigure(`Splitwise ${prov}, ${o.trace}, ${mode} mode${seeds}`, bars, colorOf));
    }
  }
  return files;
}
