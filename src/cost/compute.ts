/**
 * Cost and energy figures of a run (provisioned-cost accounting, as in Splitwise: every machine is paid for over
 * the whole measured span, busy or not).
 *
 *   machine $        = price_per_hour × span_h, per machine; a pool's $ is the sum of its machines'
 *   $ per 1M output  = $ / output tokens × 1e6 (and per 1M input tokens likewise); a pool's figure is its share
 *                      (pool $ over the run's tokens), so the pools add up to the run's figure
 *   $ per request    = $ / ok requests; $ per good request = $ / requests that met every per-request SLO
 *   energy $         = energy_kWh × USD/kWh (energy over the same span)
 */

export interface CounterPoint {
  readonly t: number;
  /** Cumulative run energy at `t` (J). */
  readonly energyJ: number;
}

/**
 * Energy between `from` and `to` from a cumulative energy series (sorted by t), linearly interpolated at the
 * ends and clipped to the series' own range. `coveredS` is the part of [from, to] the series covers.
 */
export function counterEnergy(points: readonly CounterPoint[], from: number, to: number): { joules: number; coveredS: number } {
  if (points.length === 0 || to <= from) return { joules: 0, coveredS: 0 };
  const a = Math.max(from, points[0]!.t);
  const b = Math.min(to, points[points.length - 1]!.t);
  if (b <= a) return { joules: 0, coveredS: 0 };
  return { joules: Math.max(0, energyAt(points, b) - energyAt(points, a)), coveredS: b - a };
}

function energyAt(points: readonly CounterPoint[], t: number): number {
  // Binary search for the last point with p.t <= t.
  let lo = 0;
  let hi = points.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (points[mid]!.t <= t) lo = mid;
    else hi = mid - 1;
  }
  const p = points[lo]!;
  const q = points[lo + 1];
  if (!q || q.t <= p.t || t <= p.t) return p.energyJ;
  return p.energyJ + ((q.energyJ - p.energyJ) * (t - p.t)) / (q.t - p.t);
}

export interface CostInput {
  /** Priced machines (price_per_hour not null) with their pool. */
  readonly machines: readonly { readonly pool: string; readonly pricePerHour: number }[];
  readonly spanS: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly okRequests: number;
  /** Requests that met every per-request SLO (only with an SLO). */
  readonly goodRequests?: number;
  /** Energy over the span, J (only with power samples). */
  readonly energyJ?: number;
  readonly energyByPoolJ?: Readonly<Record<string, number>>;
  readonly usdPerKwh?: number;
}

export interface PoolCost {
  readonly machines: number;
  readonly dollars: number;
  readonly machineHours: number;
  readonly dollarsPerMOutputTokens?: number;
  readonly dollarsPerMInputTokens?: number;
  readonly energyDollars?: number;
}

export interface CostFigures {
  readonly dollars: number;
  readonly machineHours: number;
  readonly dollarsPerMOutputTokens?: number;
  readonly dollarsPerMInputTokens?: number;
  readonly dollarsPerRequest?: number;
  readonly dollarsPerGoodRequest?: number;
  readonly usdPerKwh?: number;
  readonly energyDollars?: number;
  readonly pools: Record<string, PoolCost>;
}

const perM = (dollars: number, tokens: number): number | undefined => (tokens > 0 ? (dollars / tokens) * 1e6 : undefined);

function opt<K extends string>(key: K, v: number | undefined): Partial<Record<K, number>> {
  return v === undefined || !Number.isFinite(v) ? {} : ({ [key]: v } as Record<K, number>);
}

/** Cost figures of a span; machines without a price are left out by the caller. */
export function costFigures(i: CostInput): CostFigures {
  const hours = i.spanS / 3600;
  const pools: Record<string, PoolCost> = {};
  const acc = new Map<string, { machines: number; dollars: number }>();
  let dollars = 0;
  for (const m of i.machines) {
    const d = m.pricePerHour * hours;
    dollars += d;
    const p = acc.get(m.pool) ?? { machines: 0, dollars: 0 };
    p.machines++;
    p.dollars += d;
    acc.set(m.pool, p);
  }
  const kwh = (j: number): number => j / 3.6e6;
  const energyDollars = i.energyJ !== undefined && i.usdPerKwh !== undefined ? kwh(i.energyJ) * i.usdPerKwh : undefined;
  for (const [name, p] of [...acc].sort((a, b) => a[0].localeCompare(b[0]))) {
    const e = i.energyByPoolJ?.[name];
    pools[name] = {
      machines: p.machines,
      dollars: p.dollars,
      machineHours: p.machines * hours,
      ...opt('dollarsPerMOutputTokens', perM(p.dollars, i.outputTokens)),
      ...opt('dollarsPerMInputTokens', perM(p.dollars, i.inputTokens)),
      ...opt('energyDollars', e !== undefined && i.usdPerKwh !== undefined ? kwh(e) * i.usdPerKwh : undefined),
    };
  }
  // Pools with energy but no priced machine still get their energy cost.
  for (const [name, e] of Object.entries(i.energyByPoolJ ?? {})) {
    if (pools[name] || i.usdPerKwh === undefined) continue;
    pools[name] = { machines: 0, dollars: 0, machineHours: 0, energyDollars: kwh(e) * i.usdPerKwh };
  }
  return {
    dollars,
    machineHours: hours * i.machines.length,
    ...opt('dollarsPerMOutputTokens', perM(dollars, i.outputTokens)),
    ...opt('dollarsPerMInputTokens', perM(dollars, i.inputTokens)),
    ...opt('dollarsPerRequest', i.okRequests > 0 ? dollars / i.okRequests : undefined),
    ...opt('dollarsPerGoodRequest', i.goodRequests !== undefined && i.goodRequests > 0 ? dollars / i.goodRequests : undefined),
    ...opt('usdPerKwh', energyDollars === undefined ? undefined : i.usdPerKwh),
    ...opt('energyDollars', energyDollars),
    pools,
  };
}
