/**
 * Builds the emulated cluster the reference backend serves from a deployment descriptor, with the defaults the
 * engine makes from the bundled catalogs and profiles, loaded here once (the deployment's performance-model kind,
 * the catalog power model; SplitwiseSim's sizes and predictors in the compatible mode) — the same cluster the simulator builds, so a live replay and
 * a simulation of one deployment agree — on a RealClock running `timeScale` times faster than real GPUs.
 */
import { loadDeployment, loadEngineData } from '../config/index.js';
import { createCluster, withDefaults, type Cluster, type Deployment, type IterationEvent, type PerfModel } from '../engine/index.js';
import { ConfigError } from '../errors.js';
import { RealClock } from '../wallclock.js';
import type { ServedModel } from './openai.js';

export interface BackendOptions {
  /** Bundled deployment name or YAML file. */
  readonly deployment: string;
  /** Model override (catalog name). */
  readonly model?: string;
  /** Performance-model override (`--perf-model`): auto, profile or roofline; default the deployment's `perfModel`. */
  readonly perfModel?: string;
  readonly timeScale?: number;
  readonly compat?: 'splitwise';
  readonly seed?: number;
  /** Serve one pool of a split deployment as its own endpoint (vLLM's disaggregated serving). */
  readonly role?: ServeRole;
}

/** The pool a role endpoint serves. */
export type ServeRole = 'prefill' | 'decode';

/**
 * The deployment one role endpoint serves: the split deployment's prompt pool (`prefill`) or token pool
 * (`decode`) as one pool, scheduled by join-shortest-queue on pending tokens. (The Splitwise mixed pool,
 * which borrows machines across the two pools, needs both in one process: it is not modelled across endpoints.)
 */
export function roleDeployment(dep: Deployment, role: ServeRole): Deployment {
  const where = dep.source || dep.name;
  if (dep.kind !== 'split') {
    throw new ConfigError(`--role ${role} needs a phase-split deployment; ${dep.name} is ${dep.kind}`, {
      path: where,
      hint: 'use a split deployment (e.g. splitwise-hh), or serve this one without --role',
    });
  }
  const want = role === 'prefill' ? 'prompt' : 'token';
  const pool = dep.pools.find((p) => p.role === want);
  if (!pool) throw new ConfigError(`--role ${role}: ${dep.name} has no ${want} pool`, { path: where });
  return {
    ...dep,
    name: `${dep.name}-${role}`,
    description: `${dep.description} (${role} endpoint: its ${want} pool)`,
    kind: 'monolithic',
    scheduler: 'jsq-tokens',
    pools: [{ ...pool, role: 'mixed' }],
  };
}

/** The machine type of a split deployment's prompt pool (the link a decode endpoint's KV comes over). */
export function promptMachineType(dep: Deployment): string | undefined {
  return dep.pools.find((p) => p.role === 'prompt')?.machine;
}

export interface Backend {
  /** The deployment served (with --role: the role's pool, see roleDeployment). */
  readonly deployment: Deployment;
  readonly role?: ServeRole;
  /** With --role decode: the prompt pool's machine type (KV arrives over its link). */
  readonly promptMachine?: string;
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
  const loaded = loadDeployment(opts.deployment, {
    ...(opts.model === undefined ? {} : { model: opts.model }),
    ...(opts.perfModel === undefined ? {} : { perfModel: opts.perfModel }),
  });
  if (opts.perfModel !== undefined && opts.compat) {
    throw new ConfigError("not with --compat splitwise, which uses SplitwiseSim's own predictors", { path: '--perf-model' });
  }
  if (opts.role && opts.compat) {
    throw new ConfigError('--role and --compat splitwise cannot be combined: the SplitwiseSim-compatible mode has no remote prefill', { path: '--role' });
  }
  const deployment = opts.role ? roleDeployment(loaded, opts.role) : loaded;
  const promptMachine = promptMachineType(loaded);
  const data = loadEngineData({ splitwise: opts.compat === 'splitwise' });
  const model = data.catalog.model(deployment.model);
  const clock = new RealClock(opts.timeScale ?? 1);
  const listeners: ((e: IterationEvent) => void)[] = [];
  const full = withDefaults(deployment, {
    clock,
    data,
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
    ...(opts.role ? { role: opts.role } : {}),
    ...(opts.role === 'decode' && promptMachine ? { promptMachine } : {}),
    cluster,
    clock,
    model: { name: model.name, maxContextTokens: model.maxContextTokens },
    gpuModel: (machineType) => {
      const cat = data.catalog;
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
