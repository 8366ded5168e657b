/**
 * Telemetry for `replay`: the flags (validated with the replay's other flags, every problem reported at once)
 * and the per-run session started next to the load generator.
 *
 *   --power SPEC (repeatable)   power sources (specs.ts); default `model` when replay starts the reference
 *                               backend itself, none otherwise; `none` turns them off
 *   --power-interval MS         sampling period of power sources and scrapes (default 1000)
 *   --scrape URL[,ROLE]         server metrics into timeline samples; `target` means the replay's own target
 *   --price NAME=USD_PER_HOUR   override a machine or GPU price (repeatable)
 *   --price-kwh USD             electricity price for the energy cost
 *   --target NAME               request-body preset of the serving engine (targets.ts)
 */
import { loadPrices, type PriceTable } from '../cost/prices.js';
import type { MachineRow, PowerSampleRow, TimelineSampleRow } from '../store/api.js';
import { Telemetry, type TelemetryNotes } from './session.js';
import { parsePowerSpec, parseScrapeSpec, type PowerSpec, type ScrapeSpec } from './specs.js';
import { TARGET_NAMES } from './targets.js';

export const TELEMETRY_DEFAULTS = Object.freeze({ intervalMs: 1000 });

export interface RunTelemetryOptions {
  readonly power: readonly PowerSpec[];
  readonly scrape: readonly ScrapeSpec[];
  readonly intervalMs: number;
  /** `--price` overrides as given (NAME=USD). */
  readonly prices: readonly string[];
  readonly priceKwh?: number;
}

/** The telemetry flags of `replay`, checked by its flag spec (src/load/options.ts REPLAY_FLAGS). */
export interface TelemetryFlags {
  readonly power?: readonly string[] | undefined;
  readonly powerInterval?: number | undefined;
  readonly scrape?: readonly string[] | undefined;
  readonly price?: readonly string[] | undefined;
  readonly priceKwh?: number | undefined;
  readonly target?: string | undefined;
}

/**
 * Validate the telemetry flags of `replay`. `hasUrl`: the replay targets a server given by `--url` (no
 * `model` power by default). Problems are appended to `problems`.
 */
export function parseTelemetryFlags(f: TelemetryFlags, hasUrl: boolean, problems: string[]): { telemetry: RunTelemetryOptions; target?: string } {
  const power: PowerSpec[] = [];
  const powerArgs = f.power ?? [];
  const none = powerArgs.includes('none');
  if (none && powerArgs.length > 1) problems.push("--power: 'none' cannot be combined with sources");
  for (const p of none ? [] : powerArgs) {
    try {
      power.push(parsePowerSpec(p));
    } catch (e) {
      problems.push((e as Error).message);
    }
  }
  if (!none && powerArgs.length === 0 && !hasUrl) power.push({ kind: 'model', text: 'model' });
  const scrape: ScrapeSpec[] = [];
  for (const s of f.scrape ?? []) {
    try {
      const [head, role] = s.split(',');
      if (head === 'target') scrape.push({ url: 'target', ...(role ? { role } : {}), text: s });
      else scrape.push(parseScrapeSpec(s));
    } catch (e) {
      problems.push((e as Error).message);
    }
  }
  let intervalMs: number = TELEMETRY_DEFAULTS.intervalMs;
  const iv = f.powerInterval;
  if (iv !== undefined) {
    if (!Number.isFinite(iv) || iv < 10 || iv > 600_000) problems.push(`--power-interval: expected milliseconds from 10 to 600000, got '${iv}'`);
    else intervalMs = iv;
  }
  const prices = [...(f.price ?? [])];
  let priceKwh: number | undefined;
  if (f.priceKwh !== undefined) {
    if (!Number.isFinite(f.priceKwh) || f.priceKwh < 0) problems.push(`--price-kwh: expected USD per kWh >= 0, got '${f.priceKwh}'`);
    else priceKwh = f.priceKwh;
  }
  try {
    loadPrices().withOverrides(prices, priceKwh);
  } catch (e) {
    problems.push((e as Error).message);
  }
  let target: string | undefined;
  if (f.target !== undefined) {
    if (!TARGET_NAMES.includes(f.target)) problems.push(`--target: unknown target '${f.target}'; known: ${TARGET_NAMES.join(', ')}`);
    else target = f.target;
  }
  return { telemetry: Object.freeze({ power, scrape, intervalMs, prices, ...(priceKwh === undefined ? {} : { priceKwh }) }), ...(target ? { target } : {}) };
}

export interface RunTelemetryContext {
  /** The replay's target base URL. */
  readonly targetUrl: string;
  readonly timeScale: number;
  /** Monotonic ms of the run's t0 (0 until the run started). */
  readonly t0Ms: () => number;
  readonly sink: { addPowerSample(r: PowerSampleRow): void; addTimelineSample(r: TimelineSampleRow): void; addMachines(r: readonly MachineRow[]): void };
  readonly log?: (line: string) => void;
}

export interface RunTelemetry {
  /** Last readings, stop every source; the notes to store with the run (`telemetry`, `cost`). */
  stop(): Promise<Record<string, unknown>>;
}

/** Start the run's telemetry (resolves after every source's first reading); undefined when nothing is asked. */
export async function startRunTelemetry(o: RunTelemetryOptions, ctx: RunTelemetryContext): Promise<RunTelemetry | undefined> {
  const prices: PriceTable = loadPrices().withOverrides(o.prices, o.priceKwh);
  const cost = { usdPerKwh: prices.electricity.usdPerKwh, usdPerKwhSource: prices.electricity.source, priceOverrides: [...o.prices] };
  if (o.power.length === 0 && o.scrape.length === 0) return { stop: () => Promise.resolve({ cost }) };
  const metricsUrl = new URL('/metrics', ctx.targetUrl).href;
  // Sources take their first reading before the run's t0 exists: times are kept on an anchor of our own and
  // shifted onto the run's clock once t0 is known (rows wait until then), so baseline readings land at t <= 0.
  const anchor = performance.now();
  const K = ctx.timeScale;
  let shift: number | undefined;
  const pending: (() => void)[] = [];
  const resolveShift = (force = false): number | undefined => {
    if (shift === undefined) {
      const t0 = ctx.t0Ms();
      if (t0 > 0 || force) {
        shift = t0 > 0 ? ((t0 - anchor) / 1000) * K : 0;
        for (const f of pending.splice(0)) f();
      }
    }
    return shift;
  };
  const later = (f: (s: number) => void): void => {
    const s = resolveShift();
    if (s === undefined) pending.push(() => f(shift!));
    else f(s);
  };
  const sink = {
    addPowerSample: (r: PowerSampleRow) => later((s) => ctx.sink.addPowerSample({ ...r, t: r.t - s })),
    addTimelineSample: (r: TimelineSampleRow) => later((s) => ctx.sink.addTimelineSample({ ...r, t: r.t - s })),
    addMachines: (r: readonly MachineRow[]) => ctx.sink.addMachines(r),
  };
  const tel = new Telemetry(
    {
      power: o.power,
      scrape: o.scrape.map((s) => (s.url === 'target' ? { ...s, url: metricsUrl } : s)),
      intervalMs: o.intervalMs,
      targetMetricsUrl: metricsUrl,
      // The reference backend runs K× faster than real GPUs: poll its power every interval of trace time.
      modelIntervalMs: Math.max(50, o.intervalMs / Math.max(1, K)),
      prices,
      now: () => ((performance.now() - anchor) / 1000) * K,
      ...(ctx.log ? { log: ctx.log } : {}),
    },
    sink,
  );
  await tel.start();
  return {
    async stop() {
      const notes: TelemetryNotes = await tel.stop();
      resolveShift(true);
      return { telemetry: notes, cost };
    },
  };
}
