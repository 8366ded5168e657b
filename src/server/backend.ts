/**
 * Builds the emulated cluster the reference backend serves from a deployment descriptor, with the engine's
 * defaults (bundled catalogs, the deployment's performance-model kind, the catalog power model; SplitwiseSim's
 * sizes and predictors in the compatible mode) — the same cluster the simulator builds, so a live replay and
 * a simulation of one deployment agree — on a RealClock running `timeScale` times faster than real GPUs.
 */
import {
  RealClock,
  createCluster,
  loadCatalog,
  loadDeployment,
  withDefaults,
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
  /** The performance model the cluster uses for a machine type (realistic mode; undefined in compat mode). */
  perfModelFor(machineType: string): PerfModel | undefined;
}

export function createBackend(opts: BackendOptions): Backend {
  const deployment = loadDeployment(opts.deployment, opts.model === undefined ? {} : { model: opts.model });
  const model = loadCatalog().model(deployment.model);
  const clock = new RealClock(opts.timeScale ?? 1);
  const full = withDefaults(deployment, {
    clock,
    ...(opts.compat === 'splitwise' ? { compat: 'splitwise' as const } : {}),
    ...(opts.seed === undefined ? {} : { seed: opts.seed }),
  });
  const cluster = createCluster(deployment, full);
  return {
    deployment,
    cluster,
    clock,
    model: { name: model.name, maxContextTokens: model.maxContextTokens },
    perfModelFor: (machineType) => {
      const pm = full.perfModel;
      if (pm === undefined || typeof pm !== 'function') return pm;
      const m = full.catalog.machine(machineType);
      const md = full.catalog.model(deployment.model);
      return m && md ? pm(m, md) : undefined;
    },
  };
}
