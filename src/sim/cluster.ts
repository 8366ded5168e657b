/**
 * How the simulator builds its cluster: the engine's `createCluster` with the defaults it makes from the loaded
 * catalogs and profiles (machines, models, power model, performance models by the deployment's `perfModel`,
 * SplitwiseSim's predictors in the compatible mode) — the same cluster the live reference backend runs, so a simulation
 * and a live replay of one deployment agree.
 */
import { createCluster, type Clock, type Cluster, type Deployment, type EngineData, type EngineEvents } from '../engine/index.js';

export type CompatMode = 'splitwise' | undefined;

export interface SimClusterOptions {
  readonly clock: Clock;
  readonly data: EngineData;
  readonly compat?: CompatMode;
  readonly seed?: number;
  readonly events?: EngineEvents;
}

export function buildCluster(dep: Deployment, o: SimClusterOptions): Cluster {
  return createCluster(dep, {
    clock: o.clock,
    data: o.data,
    ...(o.compat === 'splitwise' ? { compat: 'splitwise' as const } : {}),
    // The simulator reads a request's token times when its row is made, at its end.
    deferTokens: true,
    ...(o.seed === undefined ? {} : { seed: o.seed }),
    ...(o.events ? { events: o.events } : {}),
  });
}
