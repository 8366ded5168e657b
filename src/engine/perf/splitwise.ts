/**
 * SplitwiseSim's profiled data (workloads/profiles/splitwise-sim/perf_model.csv, MIT, (c) 2024 Pratyush Patel):
 * its raw predictors, its iteration-time rule (the `splitwise` performance model of the compatible mode), and the
 * conversion of its rows into splitbench profile files. The CSV is read at the edge (src/config/profiles.ts) and
 * its rows handed in with the `Profiles`.
 *
 * Predictor (the Splitwise notes, 2.2): for each (model, hardware, TP), x = prompt_size x batch_size of each row;
 * y = the MEDIAN prompt_time (resp. token_time) over all rows with that x (the x = 512 point pools three sweeps);
 * linear interpolation, linear extrapolation outside the range.
 * Iteration rule: batch tokens = Σ prompt sizes + number of decodes; prompts only → prompt(batch tokens);
 * decodes only → token(number of decodes); mixed → prompt(batch tokens) x 1.1. No context-length dependence.
 */
import { ConfigError } from '../../errors.js';
import type { BatchShape, PerfModel } from '../api.js';
import { PiecewiseLinear, chunkedIterationTime, median } from './interp.js';
import { PROFILE_FORMAT, type ProfileData, type Profiles } from './profile.js';

/** SplitwiseSim hardware names → catalog names. */
export const SPLITWISE_HW_ALIASES: Readonly<Record<string, string>> = { 'h100-80gb-pcap': 'h100-80gb-cap' };
const HW_ALIASES = SPLITWISE_HW_ALIASES;

export interface SplitwiseRow {
  readonly model: string;
  /** Catalog hardware name (h100-80gb-pcap is read as h100-80gb-cap). */
  readonly hardware: string;
  readonly promptSize: number;
  readonly batchSize: number;
  readonly tokenSize: number;
  readonly promptMs: number;
  readonly tokenMs: number;
  readonly tp: number;
}

export interface SplitwiseTable {
  readonly x: number[];
  readonly promptMs: number[];
  readonly tokenMs: number[];
}

/** The predictor table of one (model, hardware, tp): x = prompt_size x batch_size → median times (ms). */
export function splitwiseTable(rows: readonly SplitwiseRow[], model: string, hardware: string, tp: number): SplitwiseTable | undefined {
  const groups = new Map<number, { p: number[]; t: number[] }>();
  for (const r of rows) {
    if (r.model !== model || r.hardware !== hardware || r.tp !== tp) continue;
    const x = r.promptSize * r.batchSize;
    let g = groups.get(x);
    if (!g) groups.set(x, (g = { p: [], t: [] }));
    g.p.push(r.promptMs);
    g.t.push(r.tokenMs);
  }
  if (groups.size === 0) return undefined;
  const xs = [...groups.keys()].sort((a, b) => a - b);
  return { x: xs, promptMs: xs.map((x) => median(groups.get(x)!.p)), tokenMs: xs.map((x) => median(groups.get(x)!.t)) };
}

export interface SplitwisePredictors {
  /** Prompt (prefill) iteration seconds at x batch tokens. */
  prompt(x: number): number;
  /** Token (decode) iteration seconds at x (SplitwiseSim evaluates it at the number of decode tasks). */
  token(x: number): number;
  readonly table: SplitwiseTable;
}

const predictorCache = new WeakMap<Profiles, Map<string, SplitwisePredictors>>();

/**
 * SplitwiseSim's raw predictors for (model, hardware, tp), in SECONDS (from the profiles' SplitwiseSim rows).
 * `hardware` is a catalog hardware name (SplitwiseSim's `h100-80gb-pcap` is accepted too).
 */
export function splitwisePredictors(profiles: Profiles, model: string, hardware: string, tp = 8): SplitwisePredictors {
  const hw = HW_ALIASES[hardware] ?? hardware;
  const key = `${model}|${hw}|${tp}`;
  let cache = predictorCache.get(profiles);
  if (!cache) predictorCache.set(profiles, (cache = new Map()));
  const hit = cache.get(key);
  if (hit) return hit;
  const rows = profiles.splitwiseRows();
  const table = splitwiseTable(rows, model, hw, tp);
  if (!table) {
    const known = [...new Set(rows.map((r) => `${r.model}/${r.hardware}/tp${r.tp}`))];
    throw new ConfigError(`SplitwiseSim has no profile for ${model} on ${hw} at TP${tp}; it has: ${known.join(', ')}`);
  }
  const p = new PiecewiseLinear(table.x, table.promptMs);
  const t = new PiecewiseLinear(table.x, table.tokenMs);
  const pred: SplitwisePredictors = { prompt: (x) => p.at(x) / 1000, token: (x) => t.at(x) / 1000, table };
  cache.set(key, pred);
  return pred;
}

/** SplitwiseSim's mixed-batch factor. */
export const SPLITWISE_MIXED_FACTOR = 1.1;

/** The `splitwise` performance model: SplitwiseSim's iteration-time rule, exactly (compatible mode). */
export class SplitwisePerfModel implements PerfModel {
  readonly name: string;
  readonly predictors: SplitwisePredictors;
  constructor(profiles: Profiles, model: string, hardware: string, tp = 8) {
    this.predictors = splitwisePredictors(profiles, model, hardware, tp);
    this.name = `splitwise:${model}/${HW_ALIASES[hardware] ?? hardware}/tp${tp}`;
  }
  prefillTime(tokens: number): number {
    return this.predictors.prompt(tokens);
  }
  /** The token predictor at x = batch size; context is ignored (as SplitwiseSim). */
  decodeTime(batchSize: number, _contextTokens: number): number {
    return batchSize > 0 ? this.predictors.token(batchSize) : 0;
  }
  /**
   * SplitwiseSim has no chunked prefill; in the realistic engine a continued chunk costs at least its
   * prefix's increment on the prompt predictor (`chunkedIterationTime`). Whole prompts: SplitwiseSim's rule.
   */
  iterationTime(batch: BatchShape): number {
    return chunkedIterationTime(batch, this.baseTime, this.prefillOf);
  }
  private readonly baseTime = (batch: BatchShape): number => {
    let P = 0;
    for (const p of batch.promptTokens) P += p;
    const d = batch.decodes;
    if (P <= 0 && d <= 0) return 0;
    if (P <= 0) return this.predictors.token(d);
    const t = this.predictors.prompt(P + d);
    return d > 0 ? t * SPLITWISE_MIXED_FACTOR : t;
  };
  private readonly prefillOf = (tokens: number): number => this.prefillTime(tokens);
}

/**
 * Convert SplitwiseSim rows into splitbench profiles, one per (model, hardware, tp):
 * - prefill: rows with batch_size 1, median prompt_time per prompt_size;
 * - decode curve: the batch sweep (prompt 512, 128 output tokens), median token_time per batch size, at context
 *   512 + 128/2 = 576 (token_time averages 128 decode iterations whose context grows from 512 to 640). A batch point
 *   whose median prompt_time is below the previous batch point's is dropped as a failed run (Llama2-70B TP2 batch 64);
 * - context sweep (batch 1): the prompt sweep (context = prompt + 64) and the output sweep (prompt 512, context =
 *   512 + token_size / 2), median token_time per context;
 * - splitwise: the raw predictor table.
 */
export function convertSplitwiseRows(rows: readonly SplitwiseRow[]): ProfileData[] {
  const keys = [...new Set(rows.map((r) => `${r.model}|${r.hardware}|${r.tp}`))].sort();
  const out: ProfileData[] = [];
  for (const key of keys) {
    const [model, hardware, tpS] = key.split('|') as [string, string, string];
    const tp = Number(tpS);
    const mine = rows.filter((r) => r.model === model && r.hardware === hardware && r.tp === tp);
    const groupMedian = <K extends number>(sel: SplitwiseRow[], k: (r: SplitwiseRow) => K, v: (r: SplitwiseRow) => number) => {
      const g = new Map<K, number[]>();
      for (const r of sel) {
        const key2 = k(r);
        (g.get(key2) ?? g.set(key2, []).get(key2)!).push(v(r));
      }
      return [...g.entries()].sort((a, b) => a[0] - b[0]).map(([x, vs]) => ({ x, y: median(vs) }));
    };
    const prefill = groupMedian(
      mine.filter((r) => r.batchSize === 1),
      (r) => r.promptSize,
      (r) => r.promptMs,
    );
    const batchRows = mine.filter((r) => r.promptSize === 512 && r.tokenSize === 128);
    const batchPrompt = groupMedian(
      batchRows,
      (r) => r.batchSize,
      (r) => r.promptMs,
    );
    const batchToken = groupMedian(
      batchRows,
      (r) => r.batchSize,
      (r) => r.tokenMs,
    );
    const keep: { x: number; y: number }[] = [];
    const dropped: number[] = [];
    let lastPrompt = -Infinity;
    batchToken.forEach((pt, i) => {
      const pm = batchPrompt[i]!.y;
      if (pm < lastPrompt) dropped.push(pt.x);
      else {
        keep.push(pt);
        lastPrompt = pm;
      }
    });
    const sweepRows = mine.filter((r) => r.batchSize === 1 && (r.tokenSize === 128 || r.promptSize === 512));
    const sweep = groupMedian(
      sweepRows,
      (r) => r.promptSize + r.tokenSize / 2,
      (r) => r.tokenMs,
    );
    const table = splitwiseTable(rows, model, hardware, tp)!;
    const round = (v: number): number => Math.round(v * 1e6) / 1e6;
    out.push({
      format: PROFILE_FORMAT,
      model,
      hardware,
      tp,
      source: 'SplitwiseSim data/perf_model.csv (Mutinifni/splitwise-sim, MIT, (c) 2024 Pratyush Patel): vLLM on DGX-A100 / DGX-H100, medians of 5 repeats',
      notes:
        `converted by convertSplitwiseRows (src/engine/perf/splitwise.ts)` +
        (dropped.length > 0 ? `; batch point(s) ${dropped.join(', ')} dropped (prompt_time falls as the batch grows: failed run)` : ''),
      prefill: { tokens: prefill.map((p) => p.x), ms: prefill.map((p) => round(p.y)) },
      decode: {
        curves: [{ contextTokens: 576, batch: keep.map((p) => p.x), ms: keep.map((p) => round(p.y)) }],
        contextSweep: { batch: 1, contextTokens: sweep.map((p) => p.x), ms: sweep.map((p) => round(p.y)) },
      },
      splitwise: { x: table.x, promptMs: table.promptMs.map(round), tokenMs: table.tokenMs.map(round) },
    });
  }
  return out;
}

/** File name of a converted profile. */
export function profileFileName(p: { model: string; hardware: string; tp: number }): string {
  return `${p.model}.${p.hardware}.tp${p.tp}.profile.json`;
}

/** JSON text of a profile, number arrays on one line. */
export function formatProfileJson(p: ProfileData): string {
  return JSON.stringify(p, null, 1).replace(
    /\[\s+([-\d.e+,\s]+?)\s+\]/g,
    (_m, inner: string) =>
      `[${inner
        .trim()
        .split(/\s*,\s*/)
        .join(', ')}]`,
  );
}
