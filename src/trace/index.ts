// The trace layer's public face: readers (by format name), the RequestSpec stream, transforms, stats,
// synthesis, the seeded rate generator, seeded randomness and the shared trace flags.
export type { RequestSpec } from './types.js';
export { openTrace, resolveTracePath, BUNDLED_TRACES, type TraceSource, type OpenTraceOptions, type SkippedRow } from './open.js';
export { traceReaders, TRACE_FORMATS, getTraceReader, detectTraceReader, type TraceReader } from './readers/index.js';
export { applyTransforms, hasTransforms, type TraceTransforms } from './transforms.js';
export {
  addTraceTransformOptions,
  parseWindow,
  traceOptions,
  TRACE_FLAGS,
  TRACE_INPUT_FLAGS,
  type TraceFlagOptions,
  type TraceFlagValues,
} from './options.js';
export { sha256File } from './hash.js';
export { createRng, arrivalProcess, parseArrivalKind, ARRIVAL_KINDS, type Rng, type ArrivalKind, type ParsedArrivalKind } from './random.js';
export { sizeSampler, sizeSamplerFromArrays, sizeSamplerFromBatches, type SizeSampler, type SizeSample } from './sizes.js';
export { computeTraceStats, type TraceStats, type TraceStatsOptions, type TokenStats, type QuantisationInfo } from './stats.js';
export { PrefixReuseCounter, REUSE_BLOCK_TOKENS, type PrefixReuse, type ReuseFigures } from './reuse.js';
export { writeTrace } from './writers.js';
export { synthesize, synthesizeTrace, type SynthOptions } from './synth.js';
export {
  rateArrivals,
  rateRequests,
  rateSampler,
  checkRateLoad,
  traceRequests,
  traceSampler,
  type KnownSizes,
  DEFAULT_ARRIVALS,
  type RateLoad,
  type SizeDraw,
  type TraceInput,
} from './rate.js';
export { convertTrace } from './convert.js';
export { parseAzureTimestampUs, formatAzureTimestampUs } from './timestamp.js';
export { synthesizeSessions, synthesizeSessionTrace, geometricAtLeastOne, SESSION_SYNTH_DEFAULTS, type SessionSynthOptions } from './synth.js';
export { SessionWorkload, SESSION_BLOCK_TOKENS, type SessionTurn, type SessionCounts } from './sessions.js';
