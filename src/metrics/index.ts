/**
 * Metrics: per-request formulas, mergeable summaries (hdr-histogram-js), slowdowns, SLO files, goodput and
 * the release gate. Readers of the results store; replay, sim, summary, gate and report call in here.
 */
export {
  Distribution,
  DEFAULT_PERCENTILE_METHOD,
  PERCENTILE_METHODS,
  describePercentileMethod,
  percentileOfSorted,
  STAT_NAMES,
  type PercentileMethod,
  type Stats,
  type StatName,
} from './histogram.js';
export {
  findRun,
  requestRecords,
  machineRecords,
  powerRecords,
  isCompatRun,
  METRIC_FIELDS,
  type StoreLike,
  type RunInfo,
  type RequestRecord,
} from './rows.js';
export * from './request.js';
export * from './slowdown.js';
export * from './slo.js';
export {
  summarizeRun,
  summarizeAccumulated,
  OrderedAccumulator,
  accumulate,
  summaryFromAccumulator,
  RunAccumulator,
  requestMetric,
  meetsPerRequest,
  LATENCY_METRICS,
  PHASE_METRICS,
  SLOWDOWN_METRICS,
  type RunSummary,
  type BreakdownMeans,
  type SummaryOptions,
  type StatusCounts,
  type PoolSummary,
  type PowerSummary,
  type CostSummary,
} from './summary.js';
export { formatSummaries, fmtSeconds, fmtNum } from './format.js';
export * from './formulas.js';
