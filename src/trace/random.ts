/**
 * Seeded pseudo-random numbers for everything that must be reproducible: trace sampling, synthetic
 * arrivals, size sampling, sweeps. Generator: xoshiro128** (32-bit state words, period 2^128 − 1),
 * seeded through splitmix32 so nearby seeds give unrelated streams. Same seed → same sequence, on every
 * platform (only 32-bit integer arithmetic and IEEE doubles are involved).
 */
import { ConfigError } from '../errors.js';

export interface Rng {
  /** The seed this generator started from. */
  readonly seed: number;
  /** Uniform double in [0, 1) with 53 random bits. */
  next(): number;
  /** Uniform double in [lo, hi). */
  uniform(lo?: number, hi?: number): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** Exponential variate with the given rate (mean 1/rate). */
  exponential(rate: number): number;
  /** Standard normal variate (Box–Muller, one value per call). */
  normal(): number;
  /** Gamma variate with the given shape k > 0 and scale θ > 0 (mean kθ), by Marsaglia–Tsang. */
  gamma(shape: number, scale: number): number;
}

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) | 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** A seeded generator. `seed` is any integer in [0, 2^53); the high and low 32 bits both count. */
export function createRng(seed: number): Rng {
  if (!Number.isSafeInteger(seed) || seed < 0) throw new ConfigError(`seed must be a non-negative integer, got ${seed}`, { path: '--seed' });
  const lo = seed >>> 0;
  const hi = Math.floor(seed / 4294967296) >>> 0;
  const sm = splitmix32(lo ^ Math.imul(hi, 0x27d4eb2d));
  let a = sm(),
    b = sm(),
    c = sm(),
    d = sm();
  if ((a | b | c | d) === 0) a = 1;
  const next32 = (): number => {
    const result = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
    const t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = rotl(d, 11);
    return result;
  };
  const next = (): number => ((next32() >>> 5) * 67108864 + (next32() >>> 6)) / 9007199254740992;
  let spareNormal: number | undefined;
  const normal = (): number => {
    if (spareNormal !== undefined) {
      const v = spareNormal;
      spareNormal = undefined;
      return v;
    }
    let u = 0;
    while (u === 0) u = next();
    const v = next();
    const r = Math.sqrt(-2 * Math.log(u));
    spareNormal = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
  const gamma = (shape: number, scale: number): number => {
    if (!(shape > 0) || !(scale > 0)) throw new RangeError(`gamma needs shape > 0 and scale > 0, got ${shape}, ${scale}`);
    if (shape < 1) {
      // Boost: Gamma(k) = Gamma(k + 1) · U^(1/k).
      let u = 0;
      while (u === 0) u = next();
      return gamma(shape + 1, scale) * u ** (1 / shape);
    }
    const dd = shape - 1 / 3;
    const cc = 1 / Math.sqrt(9 * dd);
    for (;;) {
      let x: number, v: number;
      do {
        x = normal();
        v = 1 + cc * x;
      } while (v <= 0);
      v = v * v * v;
      const u = next();
      if (u < 1 - 0.0331 * x * x * x * x) return dd * v * scale;
      if (u > 0 && Math.log(u) < 0.5 * x * x + dd * (1 - v + Math.log(v))) return dd * v * scale;
    }
  };
  return {
    seed,
    next,
    uniform: (lo2 = 0, hi2 = 1) => lo2 + (hi2 - lo2) * next(),
    int: (n: number) => Math.floor(next() * n),
    exponential: (rate: number) => -Math.log(1 - next()) / rate,
    normal,
    gamma,
  };
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** Inter-arrival processes by name. `gamma:CV` has the given coefficient of variation (1 = Poisson). */
export type ArrivalKind = 'poisson' | 'constant' | 'uniform' | `gamma:${number}`;
export const ARRIVAL_KINDS = ['poisson', 'gamma:CV', 'constant', 'uniform'] as const;

export interface ParsedArrivalKind {
  readonly kind: 'poisson' | 'gamma' | 'constant' | 'uniform';
  /** Coefficient of variation of the gaps (gamma only). */
  readonly cv?: number;
}

/** Validates an arrival-process name; `flag` names the option in the error. */
export function parseArrivalKind(s: string, flag = '--arrivals'): ParsedArrivalKind {
  const t = s.trim();
  if (t === 'poisson' || t === 'constant' || t === 'uniform') return { kind: t };
  const m = /^gamma:(.+)$/.exec(t);
  if (m) {
    const cv = Number(m[1]);
    if (!Number.isFinite(cv) || cv <= 0)
      throw new ConfigError(`gamma needs a positive coefficient of variation, got '${m[1]}'`, {
        path: flag,
        hint: 'e.g. gamma:2 (burstier than Poisson) or gamma:0.5 (smoother)',
      });
    return { kind: 'gamma', cv };
  }
  throw new ConfigError(`unknown arrival process '${s}'; known: ${ARRIVAL_KINDS.join(', ')}`, { path: flag });
}

/**
 * Successive arrival times (seconds), the first at 0, with mean rate `rate` per second:
 * - `poisson`: exponential gaps (mean 1/rate);
 * - `gamma:CV`: gamma gaps with shape 1/CV² and mean 1/rate (CV 1 is Poisson; CV > 1 is burstier);
 * - `constant`: gaps of exactly 1/rate;
 * - `uniform`: gaps uniform on [0, 2/rate).
 * Infinite: stop reading when you have enough.
 */
export function* arrivalProcess(kind: ArrivalKind | string, rate: number, rng: Rng): Generator<number, never, undefined> {
  if (!Number.isFinite(rate) || rate <= 0) throw new ConfigError(`rate must be a positive number of requests per second, got ${rate}`, { path: '--rate' });
  const k = parseArrivalKind(kind);
  let t = 0;
  let i = 0;
  const shape = k.kind === 'gamma' ? 1 / (k.cv! * k.cv!) : 0;
  const scale = k.kind === 'gamma' ? 1 / (rate * shape) : 0;
  for (;;) {
    yield t;
    switch (k.kind) {
      case 'poisson':
        t += rng.exponential(rate);
        break;
      case 'gamma':
        t += rng.gamma(shape, scale);
        break;
      case 'constant':
        t = ++i / rate; // no accumulated rounding
        break;
      case 'uniform':
        t += rng.uniform(0, 2 / rate);
        break;
    }
  }
}
