/**
 * Scale-out: shards of one replay (partitioning, shared start, clock offset), the exact merge of their
 * stores, the live Prometheus view, sweep and provision plans and chunks, and Slurm / Kubernetes launch files.
 */
export { parseShard, shardOf, shardFilter, fnv1a, parseStartAt, parseRunUuid, newRunUuid, SHARD_ENV, DEFAULT_LEAD_MS, type ShardSpec } from './shard.js';
export { measureOffset, startTimeServer, wallNowMs, timeUrlOf, timeBody, type ClockSample, type TimeServer, type MeasureOptions } from './clock.js';
export { mergeShards, sha256Store, DEFAULT_MAX_OFFSET_MS, type MergeOptions, type MergeResult, type MergedShard } from './merge.js';
export { LiveMetrics, serveMetrics, type MetricsServer } from './live.js';
export { resolveScaleOptions, addShardOptions, type ScaleOptions, type ShardFlags } from './options.js';
export { shardSession, READY_LINE, type ShardSession } from './session.js';
export { runProcs, replayProcs, childArgs, type ProcsResult } from './procs.js';
export {
  parseChunk,
  chunkOf,
  buildSweepPlan,
  savePlan,
  loadPlan,
  loadPlanOf,
  samePlan,
  runUnits,
  readUnits,
  runChunk,
  collectPlan,
  formatPlanResult,
  runSweepPlan,
  resolveSweepPlan,
  configKey,
  resultsDir,
  PLAN_FORMAT,
  type SweepPlan,
  type PlanFile,
  type PlanItem,
  type ChunkSpec,
  type ConfigResult,
  type PlanResult,
  type SweepPlanRun,
  type SweepPlanOptions,
  type PlanFlags,
} from './plan.js';
export {
  buildProvisionPlan,
  collectProvisionPlan,
  runProvisionPlan,
  resolveProvisionPlan,
  type ProvisionPlan,
  type ProvisionItem,
  type ProvisionUnitResult,
  type ProvisionPlanRun,
  type ProvisionPlanOptions,
  type ProvisionWork,
} from './provision-plan.js';
export {
  resolveLaunchOptions,
  launchFile,
  slurmScript,
  kubernetesManifests,
  shq,
  LAUNCHERS,
  type LaunchOptions,
  type Launcher,
  type K8sManifests,
} from './launch.js';
