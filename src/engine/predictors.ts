/**
 * SplitwiseSim's raw predictors as the compatible mode consumes them, and a realistic-mode PerfModel
 * built on any such pair (handy for tests and what-if models). The calibrated predictors come from
 * the performance-model module (`enginePredictors()`), which `createCluster` uses by default.
 */
import type { BatchShape, PerfModel } from './api.js';

/** x = batch tokens (prompt) or number of decode tasks (token); seconds. */
export interface CompatPredictors {
  promptTime(x: number): number;
  tokenTime(x: number): number;
}

/** A PerfModel over predictors: prefill/mixed by batch tokens (chunks + decodes), decode-only by batch size. */
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
