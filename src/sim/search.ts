/**
 * "Max throughput under SLO" searches, as generators fed by the previous result (search policy apart from
 * run mechanics): each `next(result)` gets the verdict of the rate it asked for and yields the next rate,
 * until it returns the answer. The same generators drive simulated and live sweeps and the provisioning
 * searches.
 *
 * - `sweepSearch(rates)`: the given ascending rates in order, stopping at the first that fails, then
 *   bisection between the last passing and the first failing rate.
 * - `escalatingSearch(start)`: ×`growth` until a rate fails (or down by the same factor until one passes),
 *   then bisection.
 *
 * Bisection stops when the bracket is narrower than `tolerance` (relative to the passing rate) or after
 * `maxRefine` steps.
 */
import { ConfigError } from '../errors.js';
import { findRun, resolveReference, type RunSummary, type SloSpec, type StoreLike } from '../metrics/index.js';
// The gate's evaluation (metrics' index does not re-export it).
import { evaluateGate, sloNeedsReference, sloResultRows, UnusableRunError, type RuleVerdict } from '../metrics/gate.js';

export interface RateVerdict {
  readonly rate: number;
  readonly passed: boolean;
}

export interface SearchResult {
  /** The highest rate that passed (undefined: none did). */
  readonly maxRate: number | undefined;
  /** The lowest rate that failed (undefined: none did). */
  readonly firstFail: number | undefined;
  readonly tried: readonly RateVerdict[];
}

export interface RefineOptions {
  /** Stop bisecting when (fail − pass) / pass < tolerance (default 0.05). */
  readonly tolerance?: number;
  /** At most this many bisection steps (default 6). */
  readonly maxRefine?: number;
  /** Round rates to this step (default 0.01 req/s). */
  readonly quantum?: number;
}

/** `x` rounded to a multiple of `q`, without binary noise (7.8, not 7.800000000000001). */
function snap(x: number, q: number): number {
  return Number((Math.round(x / q) * q).toFixed(9));
}

function* bisect(pass: number, fail: number, tried: RateVerdict[], o: RefineOptions): Generator<number, { pass: number; fail: number }, boolean> {
  const tol = o.tolerance ?? 0.05;
  const q = o.quantum ?? 0.01;
  for (let i = 0; i < (o.maxRefine ?? 6); i++) {
    if ((fail - pass) / Math.max(pass, 1e-9) < tol) break;
    const mid = snap((pass + fail) / 2, q);
    if (mid <= pass || mid >= fail) break;
    const ok = yield mid;
    tried.push({ rate: mid, passed: ok });
    if (ok) pass = mid;
    else fail = mid;
  }
  return { pass, fail };
}

/** Coarse rates in order until one fails, then bisection between the last pass and the first fail. */
export function* sweepSearch(rates: readonly number[], o: RefineOptions = {}): Generator<number, SearchResult, boolean> {
  const tried: RateVerdict[] = [];
  let pass: number | undefined;
  let fail: number | undefined;
  for (const r of rates) {
    const ok = yield r;
    tried.push({ rate: r, passed: ok });
    if (ok) pass = r;
    else {
      fail = r;
      break;
    }
  }
  if (pass !== undefined && fail !== undefined) {
    const b = yield* bisect(pass, fail, tried, o);
    pass = b.pass;
    fail = b.fail;
  }
  return { maxRate: pass, firstFail: fail, tried };
}

/** From `start`, ×growth up until a failure (or ÷growth down until a pass), then bisection. */
export function* escalatingSearch(
  start: number,
  o: RefineOptions & { growth?: number; maxSteps?: number; minRate?: number } = {},
): Generator<number, SearchResult, boolean> {
  const g = o.growth ?? 1.5;
  const q = o.quantum ?? 0.01;
  const round = (x: number): number => Math.max(q, snap(x, q));
  const tried: RateVerdict[] = [];
  let r = round(start);
  let ok = yield r;
  tried.push({ rate: r, passed: ok });
  let pass: number | undefined;
  let fail: number | undefined;
  const maxSteps = o.maxSteps ?? 12;
  if (ok) {
    pass = r;
    for (let i = 0; i < maxSteps; i++) {
      r = round(r * g);
      ok = yield r;
      tried.push({ rate: r, passed: ok });
      if (!ok) {
        fail = r;
        break;
      }
      pass = r;
    }
  } else {
    fail = r;
    for (let i = 0; i < maxSteps && r > (o.minRate ?? q); i++) {
      r = round(r / g);
      ok = yield r;
      tried.push({ rate: r, passed: ok });
      if (ok) {
        pass = r;
        break;
      }
      fail = r;
    }
  }
  if (pass !== undefined && fail !== undefined) {
    const b = yield* bisect(pass, fail, tried, o);
    pass = b.pass;
    fail = b.fail;
  }
  return { maxRate: pass, firstFail: fail, tried };
}

/** Drive a search generator with an async judge of one rate. */
export async function drive<T extends { passed: boolean }>(
  search: Generator<number, SearchResult, boolean>,
  judge: (rate: number) => Promise<T>,
): Promise<{ result: SearchResult; points: { rate: number; outcome: T }[] }> {
  const points: { rate: number; outcome: T }[] = [];
  let step = search.next(false);
  while (!step.done) {
    const rate = step.value;
    const outcome = await judge(rate);
    points.push({ rate, outcome });
    step = search.next(outcome.passed);
  }
  return { result: step.value, points };
}

/** Parse `LO:HI:STEP` (or a comma list) into ascending rates. */
export function parseRates(s: string, flag = '--rates'): number[] {
  const m = /^\s*([\d.]+)\s*:\s*([\d.]+)\s*:\s*([\d.]+)\s*$/.exec(s);
  let out: number[];
  if (m) {
    const [lo, hi, step] = [Number(m[1]), Number(m[2]), Number(m[3])];
    if (!(lo > 0) || !(hi >= lo) || !(step > 0)) throw new ConfigError(`expected LO:HI:STEP with 0 < LO <= HI and STEP > 0, got '${s}'`, { path: flag });
    out = [];
    const n = Math.floor((hi - lo) / step + 1e-9);
    if (n > 1000) throw new ConfigError(`'${s}' is ${n + 1} rates; at most 1001`, { path: flag });
    for (let i = 0; i <= n; i++) out.push(Math.round((lo + i * step) * 1e6) / 1e6);
  } else {
    out = s.split(',').map((x) => Number(x.trim()));
    if (out.length === 0 || out.some((x) => !(x > 0) || !Number.isFinite(x))) {
      throw new ConfigError(`expected LO:HI:STEP (e.g. 30:160:10) or a comma list of positive rates, got '${s}'`, { path: flag });
    }
    out.sort((a, b) => a - b);
  }
  return out;
}

export interface Judgement {
  readonly passed: boolean;
  /** Why a run could not be judged (no ok requests, interrupted, overloaded), when that decided it. */
  readonly reason?: string;
  readonly failed: readonly string[];
  readonly verdicts: readonly RuleVerdict[];
  readonly summary?: RunSummary;
}

/**
 * Judge a stored run against an SLO file with src/metrics (the gate's evaluation; slowdowns against the
 * SLO's reference machine), and store the verdicts in `slo_results`.
 */
export async function judgeRun(
  store: StoreLike & { addSloResults?(runId: number, rows: ReturnType<typeof sloResultRows>): void },
  runId: number,
  slo: SloSpec,
): Promise<Judgement> {
  const run = findRun(store, runId);
  const reference = sloNeedsReference(slo)
    ? await resolveReference(store, run, { required: true, ...(slo.referenceMachine ? { referenceMachine: slo.referenceMachine } : {}) })
    : undefined;
  try {
    // A sweep judges saturated rates too (its search finds where they start) and reports them in its table.
    const g = evaluateGate(store, { slo, run: runId, allowLag: false, allowSaturated: true, ...(reference ? { reference } : {}) });
    store.addSloResults?.(runId, sloResultRows(g));
    return { passed: g.passed, failed: g.failed, verdicts: g.verdicts, summary: g.summary };
  } catch (e) {
    if (e instanceof UnusableRunError) return { passed: false, reason: e.message, failed: [], verdicts: [] };
    throw e;
  }
}
