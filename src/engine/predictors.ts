/**
 * SplitwiseSim's raw predictors as the compatible mode consumes them. The calibrated predictors come from
 * the performance-model module (`enginePredictors()`), which `createCluster` uses by default.
 */

/** x = batch tokens (prompt) or number of decode tasks (token); seconds. */
export interface CompatPredictors {
  promptTime(x: number): number;
  tokenTime(x: number): number;
}
