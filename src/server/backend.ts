/**
 * Builds the emulated cluster the reference backend serves from a deployment descriptor: the bundled
 * catalogs (machines, models), the deployment's performance-model kind per (machine type, model), the
 * catalog power model, on a RealClock running `timeScale` times faster than real GPUs. In the
 * SplitwiseSim-compatible mode, SplitwiseSim's sizes and predictors instead.
 */
import {
  RealClock,
  createCluster,
  engineCatalog,
  enginePerfModels,
  enginePower,
  enginePredictors,
  loadCatalog,
  loadDeployment,
  type Cluster,
  type Deployment,
  type PerfModel,
} from '../engine/index.js';
import type { ServedModel } from './openai.js';

export interface BackendOptions {
  /** Bundled deployment name or YAML file. */
  readonly deployment: string;
  /** Model override (catalog name). */
  readonly model?: string;
  readonly timeScale?: number;
  readonly compat?: 'splitwise';
  readonly seed?: number;
}

export interface Backend {
  readonly deployment: Deployment;
  readonly cluster: Cluster;
  readonly clock: RealClock;
  readonly model: ServedModel;
  /** The performance model the cluster uses for a machine type (realistic mode). */
  perfModelFor(machineType: string): PerfModel;
}

export function createBackend(opts: BackendOptions): Backend {
  const deployment = loadDeployment(opts.deployment, opts.model === undefined ? {} : { model: opts.model });
  const catalog = loadCatalog();
  const model = catalog.model(deployment.model);
  const compat = opts.compat === 'splitwise';
  const perf = enginePerfModels({ kind: deployment.perfModel, catalog });
  const clock = new RealClock(opts.timeScale ?? 1);
  const cluster = createCluster(deployment, {
    clock,
    catalog: engineCatalog(catalog, compat ? { compat: true } : {}),
    power: enginePower(catalog),
    ...(compat ? { compat: 'splitwise' as const, predictors: enginePredictors(catalog) } : { perfModel: perf }),
    ...(opts.seed === undefined ? {} : { seed: opts.seed }),
  });
  return {
    deployment,
    cluster,
    clock,
    model: { name: model.name, maxContextTokens: model.maxContextTokens },
    perfModelFor: (machineType) => perf({ name: machineType }, { name: model.name }),
  };
}
