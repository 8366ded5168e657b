/**
 * The `roofline` performance model: iteration time from hardware specs and model shapes, with efficiency factors
 * calibrated by least squares against the measured profiles where both exist.
 *
 * One iteration of an instance of `tp` GPUs running prompts p_1..p_k (P tokens) and d decodes with C context tokens:
 *   compute = 2·A·(P + d) / (tp·F·mfu)  +  [Σ 2·p_i²·H·L + 4·C·H·L] / (tp·F·attnEff)
 *   memory  = (W / tp + C·K) / (B·bwEff)
 *   comm    = L · 2 all-reduces · 2(tp−1)/tp · (P + d)·hidden·2 B / NVLINK        (tp > 1)
 *   time    = L·perLayer + max(compute, memory) + comm
 *   power-capped GPUs (capPrefillSlowdown k): time x (1 + (k − 1) x min(1, compute / memory)²), so compute-bound
 *   prefill slows by k (x1.3, as SplitwiseSim's capped profile) and memory-bound decode barely moves.
 *   A prompt chunk of n tokens at offset o > 0 costs at least prefill(o + n) − prefill(o) (`chunkedIterationTime`,
 *   interp.ts), so the attention to its prefix is paid.
 * A active parameters, W weight bytes, H = heads·headDim, L layers, K KV bytes per token per GPU, F peak dense BF16
 * FLOP/s, B HBM bytes/s, NVLINK the per-GPU scale-up bandwidth. Mixture-of-experts models read all weights (an upper
 * bound).
 *
 * Calibration: for each profiled hardware type (one without `rooflineFrom`), the four factors (mfu, attnEff, bwEff,
 * perLayer seconds: per-iteration overhead, kernel launches and all-reduce latency, scaling with depth) minimise Σ ln(predicted / measured)² over every point of every profile of that
 * hardware (prefill points, decode-curve points, context-sweep points; all models and TP degrees in the profiles
 * folder) with Nelder–Mead from a fixed start: deterministic, done once per (catalog, profiles) folder pair (~0.1 s).
 * Hardware without a profile uses the factors of its `rooflineFrom` type.
 */
import { ConfigError } from '../../errors.js';
import type { BatchShape, PerfModel } from '../api.js';
import { type Catalog, type HardwareSpec, type CatalogModel, kvBytesPerTokenInstance, modelWeightBytes } from '../catalog.js';
import { chunkedIterationTime, nelderMead } from './interp.js';
import type { ProfileData, Profiles } from './profile.js';

export interface RooflineFactors {
  /** Fraction of peak FLOP/s reached by the linear layers. */
  readonly mfu: number;
  /** Fraction of peak FLOP/s reached by attention (prefill attention is far less efficient). */
  readonly attnEff: number;
  /** Fraction of peak HBM bandwidth reached when reading weights and KV cache. */
  readonly bwEff: number;
  /** Seconds per layer per iteration (kernel launches, all-reduce latency, scheduling). */
  readonly perLayerS: number;
}

/** The shapes one evaluation needs (precomputed per model, hardware, tp). */
interface Shape {
  readonly L: number;
  readonly active: number;
  readonly attnWidth: number;
  readonly weightsPerGpu: number;
  readonly kvPerGpu: number;
  readonly tp: number;
  readonly flops: number;
  readonly bw: number;
  readonly commPerToken: number;
  readonly capSlowdown: number;
}

function shapeOf(model: CatalogModel, hw: HardwareSpec, tp: number): Shape {
  const L = model.layers;
  return {
    L,
    active: model.activeParameters ?? model.parameters,
    attnWidth: model.heads * model.headDim,
    weightsPerGpu: modelWeightBytes(model) / tp,
    kvPerGpu: kvBytesPerTokenInstance(model, tp) / tp,
    tp,
    flops: hw.peakBf16Flops,
    bw: hw.hbmBandwidth,
    commPerToken: tp > 1 ? (L * 2 * ((2 * (tp - 1)) / tp) * model.hidden * 2) / hw.scaleUpBandwidth : 0,
    capSlowdown: hw.capPrefillSlowdown ?? 1,
  };
}

/** Iteration seconds for prompts of `promptSq` (Σ p_i²) and `P` tokens, plus `d` decodes with `C` context tokens. */
function evaluate(s: Shape, f: RooflineFactors, P: number, promptSq: number, d: number, C: number): number {
  if (P <= 0 && d <= 0) return 0;
  const linear = (2 * s.active * (P + d)) / (s.tp * s.flops * f.mfu);
  const attn = ((2 * promptSq + 4 * C) * s.attnWidth * s.L) / (s.tp * s.flops * f.attnEff);
  const compute = linear + attn;
  const memory = (s.weightsPerGpu + C * s.kvPerGpu) / (s.bw * f.bwEff);
  const t = s.L * f.perLayerS + Math.max(compute, memory) + s.commPerToken * (P + d);
  return s.capSlowdown === 1 ? t : t * (1 + (s.capSlowdown - 1) * Math.min(1, compute / memory) ** 2);
}

export class RooflinePerfModel implements PerfModel {
  readonly name: string;
  readonly factors: RooflineFactors;
  private readonly shape: Shape;

  constructor(model: CatalogModel, hw: HardwareSpec, tp: number, factors: RooflineFactors) {
    this.name = `roofline:${model.name}/${hw.name}/tp${tp}`;
    this.factors = factors;
    this.shape = shapeOf(model, hw, tp);
  }
  prefillTime(tokens: number): number {
    return evaluate(this.shape, this.factors, tokens, tokens * tokens, 0, 0);
  }
  decodeTime(batchSize: number, contextTokens: number): number {
    return evaluate(this.shape, this.factors, 0, 0, batchSize, contextTokens);
  }
  /** With chunked prefill: a continued chunk costs at least its prefix's increment (see chunkedIterationTime). */
  iterationTime(batch: BatchShape): number {
    return chunkedIterationTime(batch, this.baseTime, this.prefillOf);
  }
  private readonly baseTime = (batch: BatchShape): number => {
    let P = 0;
    let sq = 0;
    for (const p of batch.promptTokens) {
      P += p;
      sq += p * p;
    }
    return evaluate(this.shape, this.factors, P, sq, batch.decodes, batch.decodeContextTokens);
  };
  private readonly prefillOf = (tokens: number): number => this.prefillTime(tokens);
  /** KV-read seconds per context token of a decode (the roofline's context slope). */
  contextSlopeS(): number {
    return this.shape.kvPerGpu / (this.shape.bw * this.factors.bwEff);
  }
}

interface Point {
  readonly config: string;
  readonly shape: Shape;
  readonly P: number;
  readonly sq: number;
  readonly d: number;
  readonly C: number;
  readonly s: number;
}

/** Measured points of a profile, as (batch, seconds) pairs for the roofline. */
function profilePoints(p: ProfileData, shape: Shape): Point[] {
  const config = `${p.model}/${p.hardware}/tp${p.tp}`;
  const pts: Point[] = [];
  p.prefill.tokens.forEach((t, i) => {
    pts.push({ config, shape, P: t, sq: t * t, d: 0, C: 0, s: p.prefill.ms[i]! / 1000 });
  });
  for (const c of p.decode.curves) {
    c.batch.forEach((b, i) => {
      pts.push({ config, shape, P: 0, sq: 0, d: b, C: b * c.contextTokens, s: c.ms[i]! / 1000 });
    });
  }
  const sw = p.decode.contextSweep;
  if (sw)
    sw.contextTokens.forEach((c, i) => {
      pts.push({ config, shape, P: 0, sq: 0, d: sw.batch, C: sw.batch * c, s: sw.ms[i]! / 1000 });
    });
  for (const m of p.mixed ?? []) {
    pts.push({ config, shape, P: m.promptTokens, sq: m.promptTokens ** 2, d: m.decodes, C: m.decodes * m.contextTokens, s: m.ms / 1000 });
  }
  return pts;
}

export interface CalibrationResult {
  readonly hardware: string;
  readonly factors: RooflineFactors;
  /** Mean absolute percentage error of the calibrated roofline per profile (model/hardware/tpN), in percent. */
  readonly mapeByConfig: Readonly<Record<string, number>>;
  readonly points: number;
}

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));
const logit = (p: number): number => Math.log(p / (1 - p));
const decodeFactors = (x: number[]): RooflineFactors => ({
  mfu: sigmoid(x[0]!),
  attnEff: sigmoid(x[1]!),
  bwEff: sigmoid(x[2]!),
  perLayerS: Math.exp(x[3]!),
});

/** Fit the factors of one hardware type to measured points; report MAPE per config. */
export function fitRoofline(hardware: string, points: readonly Point[]): CalibrationResult {
  if (points.length === 0) throw new ConfigError(`no profile points to calibrate the roofline model of ${hardware}`);
  const loss = (x: number[]): number => {
    const f = decodeFactors(x);
    let sum = 0;
    for (const p of points) {
      const r = Math.log(evaluate(p.shape, f, p.P, p.sq, p.d, p.C) / p.s);
      sum += r * r;
    }
    return sum;
  };
  let x = [logit(0.4), logit(0.1), logit(0.6), Math.log(3e-4)];
  // restarts make the simplex search robust to the max() kinks
  for (let round = 0; round < 4; round++) x = nelderMead(loss, x, { step: 0.7, iterations: 3000 }).x;
  const factors = decodeFactors(x);
  const acc = new Map<string, { sum: number; n: number }>();
  for (const p of points) {
    const e = Math.abs(evaluate(p.shape, factors, p.P, p.sq, p.d, p.C) - p.s) / p.s;
    const a = acc.get(p.config) ?? { sum: 0, n: 0 };
    a.sum += e;
    a.n += 1;
    acc.set(p.config, a);
  }
  const mapeByConfig: Record<string, number> = {};
  for (const [k, a] of [...acc.entries()].sort()) mapeByConfig[k] = (100 * a.sum) / a.n;
  return { hardware, factors, mapeByConfig, points: points.length };
}

const calibrationCache = new WeakMap<Catalog, WeakMap<Profiles, Map<string, CalibrationResult>>>();

/**
 * Calibrate the roofline factors of every profiled hardware type (cached per catalog and profiles).
 * Profiles of models or hardware missing from the catalog are ignored. Power-capped types (`rooflineFrom`) are not
 * fitted; `rooflineCapCheck` in the result map reports how their profile compares.
 */
export function calibrateRoofline(catalog: Catalog, profiles: Profiles): Map<string, CalibrationResult> {
  let byProfiles = calibrationCache.get(catalog);
  if (!byProfiles) calibrationCache.set(catalog, (byProfiles = new WeakMap()));
  const hit = byProfiles.get(profiles);
  if (hit) return hit;
  const byHw = new Map<string, Point[]>();
  const known = (n: string, names: string[]): boolean => names.includes(n);
  for (const { profile } of profiles.entries) {
    if (!known(profile.model, catalog.modelNames()) || !known(profile.hardware, catalog.hardwareNames())) continue;
    const hw = catalog.hardware(profile.hardware);
    if (hw.rooflineFrom !== undefined) continue;
    const pts = byHw.get(hw.name) ?? [];
    pts.push(...profilePoints(profile, shapeOf(catalog.model(profile.model), hw, profile.tp)));
    byHw.set(hw.name, pts);
  }
  const out = new Map<string, CalibrationResult>();
  for (const [hw, pts] of byHw) out.set(hw, fitRoofline(hw, pts));
  byProfiles.set(profiles, out);
  return out;
}

/** MAPE (percent) of a roofline model against every point of one profile. */
export function rooflineMape(catalog: Catalog, profile: ProfileData, factors: RooflineFactors): number {
  const shape = shapeOf(catalog.model(profile.model), catalog.hardware(profile.hardware), profile.tp);
  const pts = profilePoints(profile, shape);
  let sum = 0;
  for (const p of pts) sum += Math.abs(evaluate(shape, factors, p.P, p.sq, p.d, p.C) - p.s) / p.s;
  return (100 * sum) / pts.length;
}

/** The calibrated factors to use for a hardware type: its own, else its `rooflineFrom` type's. */
export function rooflineFactorsFor(catalog: Catalog, profiles: Profiles, hardware: HardwareSpec): RooflineFactors {
  const cal = calibrateRoofline(catalog, profiles);
  const own = cal.get(hardware.name);
  if (own) return own.factors;
  const from = hardware.rooflineFrom !== undefined ? cal.get(hardware.rooflineFrom) : undefined;
  if (from) return from.factors;
  throw new ConfigError(
    `no calibrated roofline factors for hardware "${hardware.name}" (no profile of it, and its rooflineFrom ${hardware.rooflineFrom ? `"${hardware.rooflineFrom}" has none either` : 'is not set'})`,
    { hint: `calibrated types: ${[...cal.keys()].join(', ') || 'none'}` },
  );
}
