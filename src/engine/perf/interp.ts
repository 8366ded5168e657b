/** Numeric helpers of the performance models: piecewise-linear interpolation, medians, least squares, a minimiser. */
import type { BatchShape } from '../api.js';

/**
 * Piecewise-linear function through points (x ascending, distinct), extrapolated linearly outside the range with the
 * slope of the first / last segment (scipy `interp1d(kind='linear', fill_value='extrapolate')`). One point: constant.
 */
const MEMO = 1024;

export class PiecewiseLinear {
  readonly xs: readonly number[];
  readonly ys: readonly number[];

  constructor(xs: readonly number[], ys: readonly number[]) {
    if (xs.length === 0 || xs.length !== ys.length) throw new RangeError('PiecewiseLinear needs equal, non-empty x and y');
    for (let i = 1; i < xs.length; i++) {
      if (!(xs[i]! > xs[i - 1]!)) throw new RangeError(`PiecewiseLinear x must be strictly increasing (at index ${i})`);
    }
    this.xs = [...xs];
    this.ys = [...ys];
  }

  /** Values at the integers 0..MEMO−1 once computed (NaN: not yet): batch sizes are looked up every iteration. */
  private memo: Float64Array | undefined;

  at(x: number): number {
    if (x >>> 0 === x && x < MEMO) {
      const m = (this.memo ??= new Float64Array(MEMO).fill(NaN));
      const v = m[x]!;
      if (v === v) return v;
      return (m[x] = this.compute(x));
    }
    return this.compute(x);
  }

  private compute(x: number): number {
    const xs = this.xs;
    const ys = this.ys;
    const n = xs.length;
    if (n === 1) return ys[0]!;
    let i: number;
    if (x <= xs[0]!) i = 0;
    else if (x >= xs[n - 1]!) i = n - 2;
    else {
      let lo = 0;
      let hi = n - 1;
      while (hi - lo > 1) {
        const mid = (lo + hi) >> 1;
        if (xs[mid]! <= x) lo = mid;
        else hi = mid;
      }
      i = lo;
    }
    const x0 = xs[i]!;
    const x1 = xs[i + 1]!;
    const y0 = ys[i]!;
    const y1 = ys[i + 1]!;
    return y0 + ((y1 - y0) * (x - x0)) / (x1 - x0);
  }
}

/** Median (mean of the two middle values for an even count), as numpy/pandas. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median of no values');
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Ordinary least-squares line y = a + b x. */
export function fitLine(xs: readonly number[], ys: readonly number[]): { intercept: number; slope: number } {
  const n = xs.length;
  if (n === 0) throw new RangeError('fitLine of no points');
  const mx = xs.reduce((s, v) => s + v, 0) / n;
  const my = ys.reduce((s, v) => s + v, 0) / n;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    sxx += (xs[i]! - mx) ** 2;
    sxy += (xs[i]! - mx) * (ys[i]! - my);
  }
  const slope = sxx === 0 ? 0 : sxy / sxx;
  return { intercept: my - slope * mx, slope };
}

/** Nelder–Mead simplex minimiser (deterministic). Returns the best point found. */
export function nelderMead(f: (x: number[]) => number, start: number[], opts: { step?: number; iterations?: number } = {}): { x: number[]; value: number } {
  const n = start.length;
  const step = opts.step ?? 0.5;
  const iterations = opts.iterations ?? 4000;
  let simplex: { x: number[]; v: number }[] = [{ x: [...start], v: f(start) }];
  for (let i = 0; i < n; i++) {
    const x = [...start];
    x[i] = x[i]! + step;
    simplex.push({ x, v: f(x) });
  }
  for (let it = 0; it < iterations; it++) {
    simplex.sort((a, b) => a.v - b.v);
    const best = simplex[0]!;
    const worst = simplex[n]!;
    if (Math.abs(worst.v - best.v) <= 1e-12 * (Math.abs(best.v) + 1e-12)) break;
    const centroid = new Array<number>(n).fill(0);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) centroid[j]! += simplex[i]!.x[j]! / n;
    const along = (t: number): number[] => centroid.map((c, j) => c + t * (worst.x[j]! - c));
    const xr = along(-1);
    const vr = f(xr);
    if (vr < best.v) {
      const xe = along(-2);
      const ve = f(xe);
      simplex[n] = ve < vr ? { x: xe, v: ve } : { x: xr, v: vr };
    } else if (vr < simplex[n - 1]!.v) {
      simplex[n] = { x: xr, v: vr };
    } else {
      const xc = vr < worst.v ? along(-0.5) : along(0.5);
      const vc = f(xc);
      if (vc < Math.min(vr, worst.v)) simplex[n] = { x: xc, v: vc };
      else {
        simplex = simplex.map((p, i) => {
          if (i === 0) return p;
          const x = p.x.map((v, j) => best.x[j]! + 0.5 * (v - best.x[j]!));
          return { x, v: f(x) };
        });
      }
    }
  }
  simplex.sort((a, b) => a.v - b.v);
  return { x: simplex[0]!.x, value: simplex[0]!.v };
}

/**
 * Iteration time with chunked prefill (profile, roofline and splitwise models). A chunk of n tokens at
 * offset o > 0 (o tokens of its prompt already prefilled) attends to the whole prefix, so it costs at
 * least what the prefill curve says the prefix o + n costs beyond the prefix o:
 *
 *   t(batch) = max( base(batch), base(batch − continued chunks) + Σ_{o_i > 0} max(0, prefill(o_i + n_i) − prefill(o_i)) )
 *
 * `base` is the model's own rule for the batch taken at face value (chunks as fresh prompts of their
 * size; it carries the per-iteration cost: weights read, launches, the decodes' part of a mixed batch),
 * base(empty) = 0, and `prefill` its one-prompt prefill time. Whole prompts and first chunks (o = 0)
 * change nothing, so unchunked batches cost what they did; an idle machine prefilling N tokens in chunks
 * c_1..c_k whose marginal costs exceed a fresh chunk's takes exactly prefill(N) (the sum telescopes).
 */
export function chunkedIterationTime(batch: BatchShape, base: (b: BatchShape) => number, prefill: (tokens: number) => number): number {
  const offs = batch.promptOffsets;
  const t = base(batch);
  if (offs === undefined) return t;
  let continued = -1;
  for (let i = 0; i < offs.length; i++) {
    if (offs[i]! > 0) {
      continued = i;
      break;
    }
  }
  if (continued < 0) return t;
  const fresh: number[] = [];
  let extra = 0;
  const pt = batch.promptTokens;
  for (let i = 0; i < pt.length; i++) {
    const o = offs[i] ?? 0;
    const n = pt[i]!;
    if (o > 0) extra += Math.max(0, prefill(o + n) - prefill(o));
    else fresh.push(n);
  }
  const rest =
    fresh.length > 0 || batch.decodes > 0 ? base({ promptTokens: fresh, decodes: batch.decodes, decodeContextTokens: batch.decodeContextTokens }) : 0;
  return Math.max(t, rest + extra);
}
