/**
 * A built-in performance model for when the caller passes none: piecewise-linear over SplitwiseSim's
 * TP8 predictor tables (medians of its published profiles, rounded to 0.1 ms), linear extrapolation
 * outside the profiled range. The calibrated models (profiles, roofline) live in the performance-model
 * module and are passed to `createCluster` through its options; this one keeps the engine usable alone.
 */
import type { BatchShape, PerfModel } from './api.js';

/** SplitwiseSim's raw predictors, x = batch tokens (prompt) or number of decodes (token); seconds. */
export interface CompatPredictors {
  promptTime(x: number): number;
  tokenTime(x: number): number;
}

const X = [128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768];
const TABLES: Record<string, { prompt: number[]; token: number[] }> = {
  'bloom-176b/dgx-a100': {
    prompt: [79.7, 99.2, 174.4, 287.5, 536.1, 1332.6, 3591.5, 5782.0, 11251.8],
    token: [47.61, 47.71, 49.31, 49.44, 50.19, 51.63, 54.27, 65.38, 96.58],
  },
  'bloom-176b/dgx-h100': {
    prompt: [48.3, 51.2, 76.1, 132.2, 252.0, 649.6, 1411.6, 2521.9, 4996.5],
    token: [35.74, 36.15, 36.17, 36.33, 36.74, 37.53, 39.02, 45.84, 63.82],
  },
  'bloom-176b/dgx-h100-pcap': {
    prompt: [62.8, 66.5, 99.0, 171.9, 327.6, 844.5, 1835.0, 3278.5, 6495.4],
    token: [35.74, 36.15, 36.17, 36.33, 36.74, 37.53, 39.02, 45.84, 63.82],
  },
  'llama2-70b/dgx-a100': {
    prompt: [65.3, 66.8, 93.0, 160.9, 282.7, 708.4, 1781.0, 3524.5, 7554.0],
    token: [43.03, 43.48, 45.03, 44.56, 45.7, 46.47, 48.47, 53.02, 71.61],
  },
  'llama2-70b/dgx-h100': {
    prompt: [58.2, 51.7, 53.9, 77.7, 134.4, 376.2, 831.5, 1551.7, 2936.3],
    token: [29.87, 28.27, 30.56, 29.97, 31.63, 31.33, 32.59, 38.62, 50.16],
  },
};
TABLES['llama2-70b/dgx-h100-pcap'] = {
  prompt: TABLES['llama2-70b/dgx-h100']!.prompt.map((v) => v * 1.3),
  token: TABLES['llama2-70b/dgx-h100']!.token,
};

/** Linear interpolation with linear extrapolation at both ends (scipy interp1d, fill_value="extrapolate"). */
export function interpExtrapolate(xs: readonly number[], ys: readonly number[], x: number): number {
  const n = xs.length;
  let i = 1;
  if (x > xs[0]!) {
    while (i < n - 1 && x > xs[i]!) i++;
  }
  const x0 = xs[i - 1]!;
  const x1 = xs[i]!;
  const y0 = ys[i - 1]!;
  const y1 = ys[i]!;
  return y0 + ((x - x0) * (y1 - y0)) / (x1 - x0);
}

export function builtinPredictors(model: string, machine: string): CompatPredictors | undefined {
  const t = TABLES[`${model}/${machine}`];
  if (!t) return undefined;
  const p = t.prompt.map((v) => v / 1000);
  const k = t.token.map((v) => v / 1000);
  return {
    promptTime: (x) => interpExtrapolate(X, p, x),
    tokenTime: (x) => interpExtrapolate(X, k, x),
  };
}

export const BUILTIN_PERF_PAIRS: readonly string[] = Object.keys(TABLES);

/** Realistic-mode PerfModel over predictors: prefill/mixed by batch tokens, decode-only by batch size. */
export function perfModelFromPredictors(name: string, pr: CompatPredictors): PerfModel {
  return {
    name,
    iterationTime(b: BatchShape): number {
      if (b.promptTokens.length === 0) return pr.tokenTime(b.decodes);
      let x = b.decodes;
      for (let i = 0; i < b.promptTokens.length; i++) x += b.promptTokens[i]!;
      return pr.promptTime(x);
    },
    prefillTime: (tokens) => pr.promptTime(tokens),
    decodeTime: (batchSize) => pr.tokenTime(batchSize),
  };
}
