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
  type IterationEvent,
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
  /** The GPU product name of a machine type (the hardware catalog's `product`, else the hardware name). */
  gpuModel(machineType: string): string;
  /** Watch the cluster's iterations (each listener is called at every iteration's start). */
  onIteration(listener: (e: IterationEvent) => void): void;
  /** The performance model the cluster uses for a machine type (realistic mode; undefined in compat mode). */
  perfModelFor(machineType: string): PerfModel | undefined;
}

export function createBackend(opts: BackendOptions): Backend {
  const deployment = loadDeployment(opts.deployment, opts.model === undefined ? {} : { model: opts.model });
  const model = loadCatalog().model(deployment.model);
  const clock = new RealClock(opts.timeScale ?? 1);
  const listeners: ((e: IterationEvent) => void)[] = [];
  const full = withDefaults(deployment, {
    clock,
    events: {
      iterationStart: (e) => {
        for (const f of listeners) f(e);
      },
    },
    ...(opts.compat === 'splitwise' ? { compat: 'splitwise' as const } : {}),
    ...(opts.seed === undefined ? {} : { seed: opts.seed }),
  });
  const cluster = createCluster(deployment, full);
  return {
    deployment,
    cluster,
    clock,
    model: { name: model.name, maxContextTokens: model.maxContextTokens },
    gpuModel: (machineType) => {
      const cat = loadCatalog();
      if (!cat.hasMachine(machineType)) return machineType;
      const hw = cat.machine(machineType).hw;
      return hw.product ?? hw.name;
    },
    onIteration: (listener) => void listeners.push(listener),
    perfModelFor: (machineType) => {
      const pm = full.perfModel;
      if (pm === undefined || typeof pm !== 'function') return pm;
      const m = full.catalog.machine(machineType);
      const md = full.catalog.model(deployment.model);
      return m && md ? pm(m, md) : undefined;
    },
  };
}
