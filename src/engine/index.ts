// The engine's public face. Each part adds its `export *` line here.
export * from './api.js';
export * from './clock.js';
export * from './specs.js';
export * from './instance.js';
export * from './schedulers.js';
export * from './deployment.js';
export * from './cluster.js';
export * from './cluster-base.js';
export * from './predictors.js';
export * from './catalog.js';
export * from './data.js';
export * from './perf/index.js';
export * from './power.js';
export * from './context.js';
export { createCompatCluster, type CompatInstanceState } from './compat/cluster.js';
export * from './prefix-cache.js';
