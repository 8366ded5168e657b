// The engine's public face. Each part adds its `export *` line here.
export * from './api.js';
export * from './clock.js';
// RealClock lives with the wall-clock anchor in src/wallclock.ts (the engine itself never reads wall time).
// Re-exported here for importers written before it moved; the architecture test allowlists this one arrow.
export { RealClock } from '../wallclock.js';
export * from './specs.js';
export * from './instance.js';
export * from './schedulers.js';
export * from './deployment.js';
export * from './cluster.js';
export * from './cluster-base.js';
export * from './predictors.js';
export * from './catalog.js';
export * from './perf/index.js';
export * from './power.js';
export * from './context.js';
export { createCompatCluster, type CompatInstanceState } from './compat/cluster.js';
export * from './prefix-cache.js';
