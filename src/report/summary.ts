/**
 * The per-run numbers a report tabulates and compares, each with its unit and which direction is better.
 */
import type { RunSummary } from '../metrics/index.js';

export interface ReportSummary {
  readonly requests: number;
  readonly ok: number;
  readonly failed: number;
  readonly ttftP50S?: number;
  readonly ttftP99S?: number;
  readonly tpotP50S?: number;
  readonly tpotP99S?: number;
  readonly tbtP99S?: number;
  readonly e2eP50S?: number;
  readonly e2eP99S?: number;
  readonly lagP99S?: number;
  readonly throughputRps?: number;
  readonly outputTokPerS?: number;
  readonly goodputRps?: number;
  readonly costPer1MOutputUsd?: number;
  readonly energyPerOutputTokenJ?: number;
  /** Prefix cache: % of prompt tokens and % of requests served from it (runs whose rows record cached tokens). */
  readonly prefixTokenHitPct?: number;
  readonly prefixRequestHitPct?: number;
  /** Per pool (power-sample role / machine pool): its share of $ per 1M output tokens and of energy per output token. */
  readonly pools?: Readonly<Record<string, PoolShare>>;
  /** The summary's saturation verdict (why the run did not sustain its offered load), when it did not. */
  readonly saturated?: string;
}

export interface PoolShare {
  readonly costPer1MOutputUsd?: number;
  readonly energyPerOutputTokenJ?: number;
}

export type SummaryKey = Exclude<keyof ReportSummary, 'pools' | 'saturated'>;

export interface MetricDescriptor {
  readonly key: SummaryKey;
  readonly label: string;
  /** How to show it: 'time' (seconds → ms/s), or a fixed unit. */
  readonly unit: 'time' | 'count' | 'req/s' | 'tok/s' | '$/1M tok' | 'J/tok';
  readonly better: 'lower' | 'higher' | 'none';
}

export const SUMMARY_METRICS: readonly MetricDescriptor[] = [
  { key: 'requests', label: 'requests', unit: 'count', better: 'none' },
  { key: 'ok', label: 'ok', unit: 'count', better: 'higher' },
  { key: 'failed', label: 'failed', unit: 'count', better: 'lower' },
  { key: 'ttftP50S', label: 'TTFT p50', unit: 'time', better: 'lower' },
  { key: 'ttftP99S', label: 'TTFT p99', unit: 'time', better: 'lower' },
  { key: 'tpotP50S', label: 'TPOT p50', unit: 'time', better: 'lower' },
  { key: 'tpotP99S', label: 'TPOT p99', unit: 'time', better: 'lower' },
  { key: 'tbtP99S', label: 'TBT p99', unit: 'time', better: 'lower' },
  { key: 'e2eP50S', label: 'E2E p50', unit: 'time', better: 'lower' },
  { key: 'e2eP99S', label: 'E2E p99', unit: 'time', better: 'lower' },
  { key: 'lagP99S', label: 'lag p99', unit: 'time', better: 'lower' },
  { key: 'throughputRps', label: 'throughput', unit: 'req/s', better: 'higher' },
  { key: 'outputTokPerS', label: 'output tokens/s', unit: 'tok/s', better: 'higher' },
  { key: 'goodputRps', label: 'goodput', unit: 'req/s', better: 'higher' },
  { key: 'costPer1MOutputUsd', label: '$ per 1M output tokens', unit: '$/1M tok', better: 'lower' },
  { key: 'energyPerOutputTokenJ', label: 'energy per output token', unit: 'J/tok', better: 'lower' },
];

/** Three significant digits, no exponent for everyday magnitudes. */
export function fmtNumber(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e6 || a < 1e-3) return v.toPrecision(3);
  if (a >= 100) return v.toFixed(0);
  return Number(v.toPrecision(3)).toString();
}

/** Seconds as ms below 1 s, else s. */
export function fmtTime(s: number): string {
  return Math.abs(s) < 1 ? `${fmtNumber(s * 1000)} ms` : `${fmtNumber(s)} s`;
}

export function fmtMetric(d: MetricDescriptor, v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return '-';
  switch (d.unit) {
    case 'time':
      return fmtTime(v);
    case 'count':
      return String(Math.round(v));
    case '$/1M tok':
      return `$${fmtNumber(v)}`;
    default:
      return `${fmtNumber(v)} ${d.unit}`;
  }
}

/** The report's view of a metrics summary (`summarizeRun`). */
export function fromRunSummary(m: RunSummary): ReportSummary {
  const l = m.latencyS;
  const span = m.throughput.spanS > 0;
  const out: Record<string, number | undefined> = {
    requests: m.counts.total,
    ok: m.counts.ok,
    failed: m.counts.total - m.counts.ok,
    ttftP50S: l.ttft?.p50,
    ttftP99S: l.ttft?.p99,
    tpotP50S: l.tpot?.p50,
    tpotP99S: l.tpot?.p99,
    tbtP99S: l.tbt?.p99,
    e2eP50S: l.e2e?.p50,
    e2eP99S: l.e2e?.p99,
    lagP99S: l.lag?.p99,
    throughputRps: span ? m.throughput.requestsPerS : undefined,
    outputTokPerS: span ? m.throughput.outputTokensPerS : undefined,
    goodputRps: m.goodput?.requestsPerS,
    costPer1MOutputUsd: m.cost?.dollarsPerMOutputTokens,
    energyPerOutputTokenJ: m.power?.energyPerOutputTokenJ,
    prefixTokenHitPct: m.prefixCache ? m.prefixCache.tokenHitRate * 100 : undefined,
    prefixRequestHitPct: m.prefixCache ? m.prefixCache.requestHitRate * 100 : undefined,
  };
  const clean: Record<string, number> = {};
  for (const [k, v] of Object.entries(out)) if (v !== undefined && Number.isFinite(v)) clean[k] = v;
  const pools: Record<string, PoolShare> = {};
  for (const [name, p] of Object.entries(m.cost?.pools ?? {})) {
    if (p.dollarsPerMOutputTokens !== undefined) pools[name] = { ...pools[name], costPer1MOutputUsd: p.dollarsPerMOutputTokens };
  }
  for (const [name, p] of Object.entries(m.power?.pools ?? {})) {
    if (p.energyPerOutputTokenJ !== undefined) pools[name] = { ...pools[name], energyPerOutputTokenJ: p.energyPerOutputTokenJ };
  }
  const withPools = Object.keys(pools).length > 0 ? { ...clean, pools } : clean;
  return (m.saturated ? { ...withPools, saturated: m.saturated } : withPools) as unknown as ReportSummary;
}
