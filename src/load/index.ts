/** The replay load generator's public face (`splitbench replay`). */
export { DEFAULT_DB as REPLAY_DB_DEFAULT } from '../paths.js';
export { runReplay, type ReplayIo, type ReplayResult, type ReplayHooks } from './run.js';
export { calibrateTimeScale, AUTO_TIME_SCALES, CALIBRATION_REQUESTS, type Calibration } from './calibrate.js';
export {
  resolveReplayOptions,
  optionsForStore,
  DEFAULTS as REPLAY_DEFAULTS,
  REPLAY_FLAGS,
  type ReplayFlags,
  type ReplayOptions,
  type LoadShape,
} from './options.js';
export { Runner, traceSchedule, rateSchedule, type Scheduled, type ReplayRunResult, type RunOutcome } from './replay.js';
export { LoadClient, type ClientOptions, type StreamResult, type Timeouts } from './client.js';
export { SseParser, type SseSink } from './sse.js';
export { CompletionStream, type CountMethod, type Breakdown } from './stream.js';
export { BodyBuilder, ENDPOINT_PATHS, type Endpoint, type PromptMode } from './prompt.js';
export { preflight, type PreflightResult } from './preflight.js';
export { startBackend, type Backend, type BackendOptions } from './backend.js';
export { Sleeper, targetMs, traceSeconds, lagSeconds, SPIN_MS } from './schedule.js';
export { LiveStats } from './stats.js';
export { buildSummary, formatSummary, fmtS, type ReplaySummary } from './summary.js';
