/**
 * How the simulator builds its cluster: the engine's cluster on the bundled catalogs (machines, models,
 * power) and performance models, exactly as the live reference backend should, so a simulation and a live
 * replay of the same deployment run the same model. Realistic mode: the deployment's `perfModel` kind (a
 * `profile` deployment falls back to the calibrated roofline for machines without a bundled profile);
 * compatible mode: SplitwiseSim's predictors and model sizes.
 */
import {
  createCluster,
  engineCatalog,
  enginePerfModels,
  enginePower,
  enginePredictors,
  loadCatalog,
  type Clock,
  type Cluster,
  type Deployment,
  type EngineEvents,
} from '../engine/index.js';

export type CompatMode = 'splitwise' | undefined;

export interface SimClusterOptions {
  readonly clock: Clock;
  readonly compat?: CompatMode;
  readonly seed?: number;
  readonly events?: EngineEvents;
}

/** The engine options the simulator uses for a deployment (also what `serve` should use for agreement). */
export function engineOptions(dep: Deployment, o: SimClusterOptions): Parameters<typeof createCluster>[1] {
  const catalog = loadCatalog();
  const compat = o.compat === 'splitwise';
  return {
    clock: o.clock,
    ...(compat ? { compat: 'splitwise' as const } : {}),
    ...(o.seed === undefined ? {} : { seed: o.seed }),
    catalog: engineCatalog(catalog, compat ? { compat: true } : {}),
    perfModel: enginePerfModels({ catalog, ...(dep.perfModel === 'profile' ? {} : { kind: dep.perfModel }) }),
    predictors: enginePredictors(catalog),
    power: enginePower(catalog),
    ...(o.events ? { events: o.events } : {}),
  };
}

export function buildCluster(dep: Deployment, o: SimClusterOptions): Cluster {
  return createCluster(dep, engineOptions(dep, o));
}
