/**
 * Telemetry: power sources (the reference backend's power model, nvidia-smi, DCGM exporters, any Prometheus
 * series) and server-metrics scrapers sampled during a live run into the store; target presets; the `profile`
 * measurement of a live endpoint.
 */
export { parsePromText, parsePromValue, familyOf, PromParseError, type PromSample, type PromFamily, type PromExposition, type PromType } from './prom-text.js';
export { EnergyAccumulator, type EnergyMethod } from './energy.js';
export { parsePowerSpec, parseScrapeSpec, type PowerSpec, type ScrapeSpec } from './specs.js';
export { COMMON_METRICS, ServerMetricsMapper, type CommonMetric, type TimelinePoint } from './server-metrics.js';
export {
  Telemetry,
  modelReadings,
  dcgmReadings,
  promReadings,
  parseNvidiaSmiLine,
  type TelemetryOptions,
  type TelemetrySink,
  type TelemetryNotes,
  type SourceNote,
} from './session.js';
export { TARGET_PRESETS, TARGET_NAMES, targetPreset, type TargetPreset } from './targets.js';
export { parseTelemetryFlags, startRunTelemetry, TELEMETRY_DEFAULTS, type RunTelemetryOptions, type RunTelemetryContext, type RunTelemetry } from './run.js';
