/** The simulator's public face: `sim` runs, rate sweeps, provisioning searches, the Splitwise experiment. */
export { buildCluster, type CompatMode, type SimClusterOptions } from './cluster.js';
export { simulate, type SimSink, type SimEventListener, type SimulateOptions, type SimulateResult, type SimProgress } from './simulate.js';
export { TraceEventWriter } from './perfetto.js';
export { parseSeeds, resolveSimOptions, SIM_DEFAULTS, type SimOptions, type SimShape } from './options.js';
export { runSim, formatSimResult, simRequests, type SimRunResult, type SimIo } from './run.js';
export {
  sweepSearch,
  escalatingSearch,
  drive,
  parseRates,
  judgeRun,
  type SearchResult,
  type RateVerdict,
  type RefineOptions,
  type Judgement,
} from './search.js';
export {
  runSweep,
  resolveSweepOptions,
  formatSweep,
  simRateRunner,
  sweepRateRunner,
  pointOf,
  type SweepOptions,
  type SweepResult,
  type SweepPoint,
  type RateRunner,
  type RatePoint,
  type RateContext,
  type RateRunnerFactory,
} from './sweep.js';
export {
  DESIGNS,
  DESIGN_NAMES,
  OBJECTIVES,
  Evaluator,
  designDeployment,
  provisioned,
  parseBudgetLike,
  countsLabel,
  resolveProvisionOptions,
  runProvision,
  provisionSearch,
  formatProvision,
  withEvaluators,
  evaluatorRunner,
  provisionCandidates,
  candidateOf,
  pickWinner,
  finishProvision,
  type DesignSpec,
  type Counts,
  type Objective,
  type ProvisionOptions,
  type ProvisionResult,
  type Candidate,
} from './provision.js';
export {
  runExperiment,
  resolveExperimentOptions,
  experimentMarkdown,
  experimentCsv,
  paperRatios,
  ratiosMarkdown,
  PAPER_CONFIGS,
  type ExperimentOptions,
  type ExperimentResult,
  type ExperimentRow,
  type PaperRatio,
  type PowerOptResult,
} from './experiment.js';
