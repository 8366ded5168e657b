/**
 * Measured performance profiles (the `profile` performance model) and their file format.
 *
 * A profile file (`*.profile.json`, format `splitbench-profile/1`) holds, for one (model, hardware, tensor-parallel)
 * triple, measured iteration times in milliseconds:
 *   prefill.tokens / prefill.ms           one prompt of N tokens alone in the batch
 *   decode.curves[]                        decode iteration time vs batch size, at a fixed per-request context length
 *     { contextTokens, batch[], ms[] }     (the KV cache of every request in the batch holds contextTokens tokens)
 *   decode.contextSweep (optional)         decode time vs context length at one batch size (usually 1)
 *   mixed[] (optional)                     measured mixed iterations { promptTokens, decodes, contextTokens, ms }
 *   splitwise (optional)                   SplitwiseSim's predictor tables (x = batch tokens) for the compatible mode
 * The workloads/profiles README documents the format with an example. The files are read and validated at the
 * edge (src/config/profiles.ts); the engine gets them as `Profiles`.
 *
 * Evaluation (all piecewise-linear, linear extrapolation outside the measured range):
 *   prefill(T)      = prefill curve at T tokens (several prompts in one batch: at their sum).
 *   decode(b, C)    with C the batch's total context tokens and a = C / b the mean context per request:
 *                   - two or more curves: each curve at b, then linear in a between (or beyond) the curves' contexts;
 *                   - one curve at context c0: curve(b) + s x (C − b x c0), s = the KV-read cost per context token
 *                     (least-squares slope of decode.contextSweep, clamped at 0; without a sweep, the caller's
 *                     roofline slope: KV bytes per token per GPU / effective HBM bandwidth).
 *   mixed(P, d, C)  = k x [ max(prefill(P + d), decode(d, 0)) + (decode(d, C) − decode(d, 0)) ]: one forward pass runs
 *                   the linear layers over all P + d tokens (the prefill curve) and, in addition, reads the decode
 *                   requests' KV cache (the context-dependent part of decode); k = 1, or the least-squares ratio of
 *                   the file's measured mixed points to this composition when it has some.
 *   Every result is at least 10% of the smallest measured time (linear extrapolation never reaches zero or below).
 *   Chunked prefill: a chunk of n tokens at offset o > 0 costs at least prefill(o + n) − prefill(o), the rule of
 *   `chunkedIterationTime` (interp.ts), applied over the batch costed as above.
 */
import { ConfigError } from '../../errors.js';
import type { BatchShape, PerfModel } from '../api.js';
import { PiecewiseLinear, chunkedIterationTime, fitLine } from './interp.js';
import type { SplitwiseRow } from './splitwise.js';

export const PROFILE_FORMAT = 'splitbench-profile/1';

/** One profile (format `splitbench-profile/1`): measured iteration times of one (model, hardware, tp), ms. */
export interface ProfileData {
  readonly format: typeof PROFILE_FORMAT;
  readonly model: string;
  readonly hardware: string;
  readonly tp: number;
  readonly source: string;
  readonly notes?: string | undefined;
  readonly prefill: { readonly tokens: readonly number[]; readonly ms: readonly number[] };
  readonly decode: {
    readonly curves: readonly { readonly contextTokens: number; readonly batch: readonly number[]; readonly ms: readonly number[] }[];
    readonly contextSweep?: { readonly batch: number; readonly contextTokens: readonly number[]; readonly ms: readonly number[] } | undefined;
  };
  readonly mixed?: readonly { readonly promptTokens: number; readonly decodes: number; readonly contextTokens: number; readonly ms: number }[] | undefined;
  readonly splitwise?: { readonly x: readonly number[]; readonly promptMs: readonly number[]; readonly tokenMs: readonly number[] } | undefined;
}

/** A profile and the file it was read from. */
export interface ProfileIndexEntry {
  readonly file: string;
  readonly profile: ProfileData;
}

/**
 * The measured performance data the engine's models come from, read and validated at the edge
 * (src/config/profiles.ts): every profile of a folder and, when the caller loaded them (what the compatible mode
 * and the `splitwise` reference need), SplitwiseSim's raw rows (its perf_model.csv).
 */
export class Profiles {
  /** Where they were read from (a label: the engine reads no files). */
  readonly dir: string;
  readonly entries: readonly ProfileIndexEntry[];
  private readonly rows: readonly SplitwiseRow[] | undefined;

  constructor(dir: string, entries: readonly ProfileIndexEntry[], splitwiseRows?: readonly SplitwiseRow[]) {
    this.dir = dir;
    this.entries = entries;
    this.rows = splitwiseRows;
  }

  /** SplitwiseSim's profiled rows (hardware names as the catalog's); a ConfigError when they were not loaded. */
  splitwiseRows(): readonly SplitwiseRow[] {
    if (this.rows) return this.rows;
    throw new ConfigError("SplitwiseSim's profile rows were not loaded with these profiles", {
      hint: 'load them with the profiles (loadEngineData({ splitwise: true }) in src/config)',
    });
  }

  /** The profile of (model, hardware, tp), or undefined. */
  find(model: string, hardware: string, tp: number): ProfileIndexEntry | undefined {
    return this.entries.find((e) => e.profile.model === model && e.profile.hardware === hardware && e.profile.tp === tp);
  }

  /** `model/hardware/tpN` of every profile (for error messages). */
  names(): string[] {
    return this.entries.map((e) => `${e.profile.model}/${e.profile.hardware}/tp${e.profile.tp}`);
  }
}

export interface ProfileModelOptions {
  /** KV-read cost in ms per context token (decode) when the profile has one decode curve and no context sweep. */
  readonly fallbackContextSlopeMs?: number;
  readonly name?: string;
}

/** The `profile` performance model: piecewise-linear interpolation over a profile's measured points. */
export class ProfilePerfModel implements PerfModel {
  readonly name: string;
  readonly profile: ProfileData;
  /** ms per context token of one decode request (one-curve profiles). */
  readonly contextSlopeMs: number;
  /** Mixed-batch scale k (1 without measured mixed points). */
  readonly mixedScale: number;
  private readonly prefillCurve: PiecewiseLinear;
  private readonly curves: { context: number; f: PiecewiseLinear }[];
  private readonly floorMs: number;

  constructor(profile: ProfileData, opts: ProfileModelOptions = {}) {
    this.profile = profile;
    this.name = opts.name ?? `profile:${profile.model}/${profile.hardware}/tp${profile.tp}`;
    this.prefillCurve = new PiecewiseLinear(profile.prefill.tokens, profile.prefill.ms);
    this.curves = profile.decode.curves.map((c) => ({ context: c.contextTokens, f: new PiecewiseLinear(c.batch, c.ms) }));
    const sweep = profile.decode.contextSweep;
    if (sweep) {
      this.contextSlopeMs = Math.max(
        0,
        fitLine(
          sweep.contextTokens.map((c) => c * sweep.batch),
          sweep.ms,
        ).slope,
      );
    } else {
      this.contextSlopeMs = Math.max(0, opts.fallbackContextSlopeMs ?? 0);
    }
    const all = [...profile.prefill.ms, ...profile.decode.curves.flatMap((c) => c.ms)];
    this.floorMs = 0.1 * Math.min(...all);
    this.mixedScale = 1;
    if (profile.mixed && profile.mixed.length > 0) {
      // least squares of measured = k x composed (no intercept): k = Σ m c / Σ c²
      let num = 0;
      let den = 0;
      for (const p of profile.mixed) {
        const c = this.mixedMs(p.promptTokens, p.decodes, p.decodes * p.contextTokens);
        num += p.ms * c;
        den += c * c;
      }
      this.mixedScale = den > 0 ? num / den : 1;
    }
  }

  /** Prefill of `tokens` prompt tokens, ms, without the floor. */
  private prefillMs(tokens: number): number {
    return this.prefillCurve.at(tokens);
  }

  /** Decode iteration of `b` requests with `C` total context tokens, ms, without the floor (may extrapolate below 0). */
  decodeMs(b: number, C: number): number {
    const cs = this.curves;
    if (cs.length === 1) {
      const c = cs[0]!;
      return c.f.at(b) + this.contextSlopeMs * (C - b * c.context);
    }
    const a = C / b;
    let i = 0;
    while (i < cs.length - 2 && a > cs[i + 1]!.context) i++;
    const lo = cs[i]!;
    const hi = cs[i + 1]!;
    const ylo = lo.f.at(b);
    const yhi = hi.f.at(b);
    return ylo + ((yhi - ylo) * (a - lo.context)) / (hi.context - lo.context);
  }

  private mixedMs(P: number, d: number, C: number): number {
    const zero = this.decodeMs(d, 0);
    return Math.max(this.prefillMs(P + d), zero) + (this.decodeMs(d, C) - zero);
  }

  private floor(ms: number): number {
    return Math.max(ms, this.floorMs) / 1000;
  }

  prefillTime(tokens: number): number {
    return this.floor(this.prefillMs(tokens));
  }

  decodeTime(batchSize: number, contextTokens: number): number {
    if (batchSize <= 0) return 0;
    return this.floor(this.decodeMs(batchSize, contextTokens));
  }

  /** With chunked prefill: a continued chunk costs at least its prefix's increment (see chunkedIterationTime). */
  iterationTime(batch: BatchShape): number {
    return chunkedIterationTime(batch, this.baseTime, this.prefillOf);
  }

  private readonly baseTime = (b: BatchShape): number => this.faceValueTime(b);
  private readonly prefillOf = (tokens: number): number => this.prefillTime(tokens);

  /** The batch at face value: every chunk costed as a fresh prompt of its size. */
  private faceValueTime(batch: BatchShape): number {
    let P = 0;
    for (const p of batch.promptTokens) P += p;
    const d = batch.decodes;
    if (P <= 0 && d <= 0) return 0;
    if (d <= 0) return this.prefillTime(P);
    if (P <= 0) return this.decodeTime(d, batch.decodeContextTokens);
    return this.floor(this.mixedScale * this.mixedMs(P, d, batch.decodeContextTokens));
  }
}
