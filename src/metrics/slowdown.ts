/**
 * Slowdown (Splitwise's SLO form): a request's TTFT, TPOT, TBT and E2E divided by what the same request
 * takes alone on a reference machine.
 *
 * References:
 * - the performance model (`referenceFromModel`): the engine's `referenceLatency` for one uncontended
 *   machine (default `dgx-a100`) running the run's model; in SplitwiseSim-compatible runs its `splitwise`
 *   mode (TBT reference = the A100 token predictor at x = prompt size, as SplitwiseSim's notebooks do);
 * - a named unloaded run (`referenceFromRun`): the same request in that run, matched by trace id, else the
 *   mean over that run's requests of the same (prompt, output) sizes.
 */
import { SplitbenchError, ExitCode } from '../errors.js';
import { measure, type RequestMetrics } from './request.js';
import { findRun, isCompatRun, requestRecords, type RequestRecord, type StoreLike } from './rows.js';

/** What a request takes alone on the reference (seconds). `tbt` defaults to `tpot`. */
export interface ReferenceTimes {
  readonly ttft: number;
  readonly tpot: number;
  readonly e2e: number;
  readonly tbt?: number;
}

export interface ReferenceRequest {
  readonly traceId: string;
  readonly promptTokens: number;
  readonly outputTokens: number;
}

export interface SlowdownReference {
  /** What the reference is, for people (`model llama2-70b on dgx-a100`, `run 3 (baseline)`). */
  readonly describe: string;
  latency(req: ReferenceRequest): ReferenceTimes | undefined;
  /** A performance-model reference: what `referenceFromModel` was given (another thread builds the same one from it). */
  readonly model?: ModelReference;
}

/** A performance-model reference's model, machine and mode. */
export interface ModelReference {
  readonly model: string;
  readonly machine: string;
  readonly mode: 'realistic' | 'splitwise';
}

export interface RequestSlowdown {
  readonly ttft?: number;
  readonly tpot?: number;
  readonly tbt?: number;
  readonly e2e?: number;
}

const ratio = (v: number | undefined, ref: number | undefined): number | undefined =>
  v === undefined || ref === undefined || !(ref > 0) ? undefined : v / ref;

/** Slowdowns of one ok request (each undefined where the request or the reference lacks the metric). */
export function slowdownOf(r: RequestRecord, m: RequestMetrics, ref: SlowdownReference): RequestSlowdown | undefined {
  if (r.status !== 'ok') return undefined;
  // The row is the lookup (its trace id and sizes: a ReferenceRequest), not a copy per request.
  const t = ref.latency(r);
  if (!t) return undefined;
  const out: { ttft?: number; tpot?: number; tbt?: number; e2e?: number } = {};
  const ttft = ratio(m.ttft, t.ttft);
  if (ttft !== undefined) out.ttft = ttft;
  const tpot = ratio(m.tpot, t.tpot);
  if (tpot !== undefined) out.tpot = tpot;
  const tbt = ratio(m.tbt, t.tbt ?? t.tpot);
  if (tbt !== undefined) out.tbt = tbt;
  const e2e = ratio(m.e2e, t.e2e);
  if (e2e !== undefined) out.e2e = e2e;
  return out;
}

/** The engine's reference-latency function, as `src/engine` exports it. */
export type ReferenceLatencyFn = (q: { model: string; machine: string; promptTokens: number; outputTokens: number; mode: 'realistic' | 'splitwise' }) => {
  ttft: number;
  tpot: number;
  e2e: number;
  tbt?: number;
};

/** Reference from the performance model: one uncontended `machine` running `model`. */
export function referenceFromModel(fn: ReferenceLatencyFn, opts: ModelReference): SlowdownReference {
  // By prompt size, then output size (small-integer keys: a trace has thousands of size pairs, each looked up often).
  const cache = new Map<number, Map<number, ReferenceTimes | null>>();
  const { model, machine, mode } = opts;
  return {
    describe: `${model} alone on one ${machine}${mode === 'splitwise' ? ' (SplitwiseSim reference)' : ''}`,
    model: { model, machine, mode },
    latency(req) {
      const { promptTokens, outputTokens } = req;
      let byOutput = cache.get(promptTokens);
      if (byOutput === undefined) cache.set(promptTokens, (byOutput = new Map()));
      const hit = byOutput.get(outputTokens);
      if (hit !== undefined) return hit ?? undefined;
      let t: ReferenceTimes | null;
      try {
        t = fn({ model, machine, mode, promptTokens, outputTokens });
      } catch {
        t = null; // sizes the model cannot take (e.g. 0 tokens): the request has no slowdown
      }
      byOutput.set(outputTokens, t);
      return t ?? undefined;
    },
  };
}

/** Reference from an unloaded run of the same trace: match by trace id, else by (prompt, output) sizes. */
export function referenceFromRun(store: StoreLike, runIdOrName: string | number): SlowdownReference {
  const run = findRun(store, runIdOrName);
  const compat = isCompatRun(run);
  const byId = new Map<string, ReferenceTimes>();
  const sums = new Map<string, { ttft: number; tpot: number; tbt: number; e2e: number; n: number; nTpot: number }>();
  for (const r of requestRecords(store, run.id)) {
    if (r.status !== 'ok') continue;
    const { ttft, e2e, tpot, tbt } = measure(r, compat);
    if (ttft === undefined || e2e === undefined) continue;
    byId.set(r.traceId, { ttft, e2e, tpot: tpot ?? NaN, ...(tbt === undefined ? {} : { tbt }) });
    const key = `${r.promptTokens}/${r.outputTokens}`;
    const s = sums.get(key) ?? { ttft: 0, tpot: 0, tbt: 0, e2e: 0, n: 0, nTpot: 0 };
    s.ttft += ttft;
    s.e2e += e2e;
    s.n++;
    if (tpot !== undefined && tbt !== undefined) {
      s.tpot += tpot;
      s.tbt += tbt;
      s.nTpot++;
    }
    sums.set(key, s);
  }
  if (byId.size === 0) {
    throw new SplitbenchError('SB_REFERENCE', `reference run '${runIdOrName}' (id ${run.id}) has no ok requests`, {
      exitCode: ExitCode.usage,
      hint: 'pick an unloaded run that completed, or use --reference-machine',
    });
  }
  const bySize = new Map<string, ReferenceTimes>();
  for (const [k, s] of sums) {
    bySize.set(k, {
      ttft: s.ttft / s.n,
      e2e: s.e2e / s.n,
      tpot: s.nTpot > 0 ? s.tpot / s.nTpot : NaN,
      tbt: s.nTpot > 0 ? s.tbt / s.nTpot : NaN,
    });
  }
  return {
    describe: `run ${run.id} (${run.name})`,
    latency(req) {
      return byId.get(req.traceId) ?? bySize.get(`${req.promptTokens}/${req.outputTokens}`);
    },
  };
}

/** Default reference machine: one uncontended DGX-A100, as the Splitwise paper normalises. */
export const DEFAULT_REFERENCE_MACHINE = 'dgx-a100';

/**
 * The engine's `referenceLatency` over the bundled catalogs and profiles (loaded lazily: summaries without
 * slowdowns never load the engine or read those files).
 */
export async function loadReferenceLatency(): Promise<ReferenceLatencyFn> {
  const [{ referenceLatency }, { loadEngineData }] = await Promise.all([import('../engine/index.js'), import('../config/index.js')]);
  // Each mode's data loaded once, on its first use (not once per request size: the loader resolves its folders each call).
  const data: { realistic?: ReturnType<typeof loadEngineData>; splitwise?: ReturnType<typeof loadEngineData> } = {};
  return (q) =>
    referenceLatency({
      model: q.model,
      machine: q.machine,
      promptTokens: q.promptTokens,
      outputTokens: q.outputTokens,
      mode: q.mode,
      data: (data[q.mode] ??= loadEngineData(q.mode === 'splitwise' ? {} : { splitwise: false })),
    });
}

/**
 * Resolve the slowdown reference for a run: `referenceRun` when given, else the performance model's
 * `machine` (default dgx-a100) running the run's model (`splitwise` mode for compat runs).
 * `required`: throw a usage error when no reference can be built; otherwise return undefined.
 */
export async function resolveReference(
  store: StoreLike,
  run: { model: string | null; options: Record<string, unknown>; id: number; name: string },
  opts: { referenceRun?: string | number; referenceMachine?: string; required: boolean },
): Promise<SlowdownReference | undefined> {
  if (opts.referenceRun !== undefined) return referenceFromRun(store, opts.referenceRun);
  const fail = (msg: string, hint: string): undefined => {
    if (opts.required) throw new SplitbenchError('SB_REFERENCE', msg, { exitCode: ExitCode.usage, hint });
    return undefined;
  };
  if (!run.model) {
    return fail(`run ${run.id} (${run.name}) does not record its model, so it has no performance-model reference`, 'give --reference-run RUN');
  }
  const fn = await loadReferenceLatency();
  const machine = opts.referenceMachine ?? DEFAULT_REFERENCE_MACHINE;
  const mode = isCompatRun(run) ? 'splitwise' : 'realistic';
  const ref = referenceFromModel(fn, { model: run.model, machine, mode });
  try {
    // Probe once so an unknown model or machine is reported here, not as silently missing slowdowns.
    fn({ model: run.model, machine, mode, promptTokens: 1024, outputTokens: 16 });
  } catch (e) {
    if (!opts.required) return undefined;
    if (e instanceof SplitbenchError) throw e;
    return fail(`cannot compute reference latencies for ${run.model} on ${machine}: ${(e as Error).message}`, 'check --reference-machine and the run model');
  }
  return ref;
}
