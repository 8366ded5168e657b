/**
 * Performance models: a registry by name (`profile`, `roofline`, `constant`, `splitwise`) and `createPerfModel`;
 * SplitwiseSim's predictors; the slowdown reference latency. All times in SECONDS (the PerfModel contract in ../api.ts).
 */
export * from './constant.js';
export * from './interp.js';
export * from './profile.js';
export * from './roofline.js';
export * from './splitwise.js';
export * from './registry.js';
export * from './reference.js';
