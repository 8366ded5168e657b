/**
 * The chart registry: every chart a report can draw, by name (`--chart NAME`), each building a chart spec
 * from the loaded runs or saying why it has nothing to draw (the reason goes into report.md).
 */
import type { ChartConfiguration, ChartDataset, Plugin, ScaleOptionsByType, CartesianScaleTypeRegistry } from 'chart.js';
import type { RunData } from './data.js';
import type { ChartSpec, DrawContext } from './render.js';
import { bucketedSum, cdfPoints, histogram, inFlightSeries, mean, quantile, spansDecades, type Point } from './stats.js';
import {
  DASHES,
  FAIL_COLOR,
  FONT_FAMILY,
  FONT_SIZE,
  GRID_COLOR,
  PASS_COLOR,
  PHASE_FILLS,
  runColor,
  runDash,
  TEXT_COLOR,
  TITLE_SIZE,
} from './style.js';
import { fmtNumber, type PoolShare, type ReportSummary } from './summary.js';
import { CHART_INFO, type ChartInfo, type ChartName } from './registry.js';

/** An absolute SLO limit on a percentile of a latency metric, drawn on the load charts. */
export interface SloLimit {
  readonly metric: 'ttft' | 'tpot' | 'e2e';
  readonly stat: string;
  /** Seconds. */
  readonly limitS: number;
  readonly label: string;
}

export interface ChartInput {
  readonly runs: readonly RunData[];
  readonly summaries: readonly ReportSummary[];
  readonly sloLimits: readonly SloLimit[];
  readonly title?: string;
}

export type ChartResult = { readonly spec: ChartSpec } | { readonly skip: string };

export interface ChartDef extends ChartInfo {
  build(input: ChartInput): ChartResult;
}

// ---------------------------------------------------------------------------------------------- helpers

interface TimeUnit {
  readonly name: 'ms' | 's';
  readonly scale: number;
}
/** ms when the largest value is under 2 s, else s. */
function timeUnit(maxS: number): TimeUnit {
  return maxS < 2 ? { name: 'ms', scale: 1000 } : { name: 's', scale: 1 };
}

const capitalize = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

function fullTitle(input: ChartInput, text: string): string {
  return input.title ? `${input.title}: ${text}` : text;
}

function titlePlugin(text: string) {
  return { display: true, text, font: { size: TITLE_SIZE, weight: 'bold' as const, family: FONT_FAMILY }, color: TEXT_COLOR, padding: { top: 4, bottom: 6 } };
}

const legend = {
  display: true,
  position: 'top' as const,
  labels: { boxWidth: 26, boxHeight: 10, font: { size: FONT_SIZE, family: FONT_FAMILY }, color: TEXT_COLOR },
};

/** Line charts: the legend shows a short line in the dataset's colour and dash. */
const lineLegend = {
  ...legend,
  labels: {
    ...legend.labels,
    usePointStyle: true,
    pointStyle: 'line' as const,
    pointStyleWidth: 34,
    // chart.js takes a line legend's dash from the first point, not the dataset: read the dataset
    generateLabels: (chart: { data: { datasets: ChartDataset<'line', Point[]>[] } }) =>
      chart.data.datasets.map((d, i) => ({
        text: String(d.label ?? ''),
        fillStyle: d.borderColor as string,
        strokeStyle: d.borderColor as string,
        lineDash: (d.borderDash as number[] | undefined) ?? [],
        lineWidth: Math.max(2, Number(d.borderWidth ?? 2)),
        pointStyle: 'line' as const,
        fontColor: TEXT_COLOR,
        hidden: false,
        datasetIndex: i,
      })),
  },
};

type LinearOpts = Partial<ScaleOptionsByType<keyof CartesianScaleTypeRegistry>>;

function axisTitle(text: string) {
  return { display: true, text, font: { size: FONT_SIZE, family: FONT_FAMILY }, color: TEXT_COLOR };
}

/** Log axis labels only at 1, 2, 5 × 10^k. */
function logTick(value: number | string): string {
  const v = Number(value);
  if (!(v > 0)) return '';
  const m = v / 10 ** Math.floor(Math.log10(v) + 1e-9);
  return [1, 2, 5].some((k) => Math.abs(m - k) < 1e-6) ? fmtNumber(v) : '';
}

function valueAxis(title: string, log: boolean, extra: LinearOpts = {}): LinearOpts {
  return {
    type: log ? 'logarithmic' : 'linear',
    title: axisTitle(title),
    grid: { color: GRID_COLOR },
    border: { color: '#888888' },
    ticks: {
      font: { size: FONT_SIZE, family: FONT_FAMILY },
      color: TEXT_COLOR,
      maxRotation: 0,
      ...(log ? { callback: (v: number | string) => logTick(v), autoSkip: false } : { callback: (v: number | string) => fmtNumber(Number(v)) }),
    },
    ...extra,
  } as LinearOpts;
}

function lineDataset(label: string, data: Point[], color: string, dash: number[], extra: Partial<ChartDataset<'line'>> = {}): ChartDataset<'line', Point[]> {
  return {
    label,
    data,
    borderColor: color,
    backgroundColor: color,
    borderDash: dash,
    borderWidth: 2,
    pointRadius: 0,
    tension: 0,
    fill: false,
    ...extra,
  } as ChartDataset<'line', Point[]>;
}

function lineChart(title: string, datasets: ChartDataset<'line', Point[]>[], x: LinearOpts, y: LinearOpts): ChartSpec {
  const config: ChartConfiguration<'line', Point[]> = {
    type: 'line',
    data: { datasets },
    options: {
      parsing: false,
      normalized: true,
      layout: { padding: { left: 4, right: 12, top: 2, bottom: 2 } },
      plugins: { title: titlePlugin(title), legend: lineLegend as never, tooltip: { enabled: false } },
      scales: { x, y },
    },
  };
  return { kind: 'chartjs', config: config as unknown as ChartConfiguration };
}

/** Draw each bar's value above it (papers are read without hovering). */
const barValueLabels: Plugin<'bar'> = {
  id: 'splitbenchBarValues',
  afterDatasetsDraw(chart) {
    const ctx = chart.ctx;
    ctx.save();
    ctx.font = `${FONT_SIZE - 1}px ${FONT_FAMILY}`;
    ctx.fillStyle = TEXT_COLOR;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'bottom';
    chart.data.datasets.forEach((ds, di) => {
      if ((ds as { stack?: string }).stack) return;
      const meta = chart.getDatasetMeta(di);
      meta.data.forEach((el, i) => {
        const v = ds.data[i];
        if (typeof v !== 'number' || !Number.isFinite(v)) return;
        const { x, y } = el.getProps(['x', 'y'], true) as { x: number; y: number };
        ctx.fillText(fmtNumber(v), x, y - 3);
      });
    });
    ctx.restore();
  },
};

// ---------------------------------------------------------------------------------------------- CDFs

function cdfChart(
  input: ChartInput,
  what: string,
  of: 'requests' | 'tokens',
  series: (r: RunData) => { points: (scale: number) => Point[]; min: number | undefined; max: number | undefined },
): ChartResult {
  const per = input.runs.map((r) => ({ r, s: series(r) }));
  const have = per.filter((p) => p.s.max !== undefined);
  if (have.length === 0) return { skip: `no run has ${what} values (no completed requests with them)` };
  const maxS = Math.max(...have.map((p) => p.s.max!));
  const positives = have.map((p) => p.s.min!).filter((v) => v > 0);
  const minPos = positives.length > 0 ? Math.min(...positives) : 0;
  const log = spansDecades(minPos, maxS);
  const unit = timeUnit(maxS);
  const datasets = have.map(({ r, s }) => {
    let pts = s.points(unit.scale);
    if (log) pts = pts.filter((p) => p.x > 0);
    return lineDataset(r.label, pts, runColor(r.index), runDash(r.index), { stepped: false });
  });
  return {
    spec: lineChart(
      fullTitle(input, `CDF of ${what}`),
      datasets,
      valueAxis(`${what} (${unit.name}${log ? ', log scale' : ''})`, log),
      valueAxis(`fraction of ${of}`, false, { min: 0, max: 1 }),
    ),
  };
}

function arrayCdf(values: Float64Array) {
  return {
    points: (scale: number) => cdfPoints(values, 600, scale),
    min: values.length ? values[0] : undefined,
    max: values.length ? values[values.length - 1] : undefined,
  };
}

// ---------------------------------------------------------------------------------------------- sweeps

interface Sweep {
  readonly key: string;
  readonly color: string;
  readonly dash: number[];
  readonly points: { rate: number; summary: ReportSummary }[];
}

/** Runs grouped by deployment; a group with two or more distinct offered rates is a sweep. */
export function findSweeps(input: ChartInput): Sweep[] {
  const groups = new Map<string, { first: RunData; points: { rate: number; summary: ReportSummary }[] }>();
  input.runs.forEach((r, i) => {
    if (r.info.offeredRate === null) return;
    const key = r.info.deployment ?? r.info.target ?? '(no deployment)';
    const g = groups.get(key) ?? { first: r, points: [] };
    groups.set(key, g);
    g.points.push({ rate: r.info.offeredRate, summary: input.summaries[i]! });
  });
  const out: Sweep[] = [];
  for (const [key, g] of groups) {
    if (new Set(g.points.map((p) => p.rate)).size < 2) continue;
    out.push({ key, color: runColor(g.first.index), dash: runDash(g.first.index), points: [...g.points].sort((a, b) => a.rate - b.rate) });
  }
  return out;
}

function loadChart(input: ChartInput, metric: 'ttft' | 'tpot' | 'e2e', label: string): ChartResult {
  const sweeps = findSweeps(input);
  if (sweeps.length === 0) return { skip: 'no sweep among the runs (needs two or more runs of one deployment at different offered rates)' };
  const p50 = `${metric}P50S` as const;
  const p99 = `${metric}P99S` as const;
  const values = sweeps.flatMap((s) => s.points.flatMap((p) => [p.summary[p50], p.summary[p99]])).filter((v): v is number => v !== undefined);
  const limits = input.sloLimits.filter((l) => l.metric === metric);
  if (values.length === 0) return { skip: `no ${label} percentiles in the sweep runs` };
  const all = [...values, ...limits.map((l) => l.limitS)];
  const unit = timeUnit(Math.max(...all));
  const positive = all.filter((v) => v > 0);
  const logY = positive.length === all.length && spansDecades(Math.min(...positive), Math.max(...positive));
  const rates = sweeps.flatMap((s) => s.points.map((p) => p.rate));
  const [rMin, rMax] = [Math.min(...rates), Math.max(...rates)];
  const datasets: ChartDataset<'line', Point[]>[] = [];
  for (const s of sweeps) {
    const pts = (k: typeof p50 | typeof p99): Point[] =>
      s.points.filter((p) => p.summary[k] !== undefined).map((p) => ({ x: p.rate, y: p.summary[k]! * unit.scale }));
    datasets.push(lineDataset(`${s.key} p99`, pts(p99), s.color, [], { pointRadius: 3, pointStyle: 'circle' }));
    datasets.push(lineDataset(`${s.key} p50`, pts(p50), s.color, [6, 4], { pointRadius: 3, pointStyle: 'rect' }));
  }
  limits.forEach((l, i) => {
    datasets.push(
      lineDataset(`SLO ${l.label}`, [{ x: rMin, y: l.limitS * unit.scale }, { x: rMax, y: l.limitS * unit.scale }], '#000000', [...DASHES[(i % 3) + 1]!], { borderWidth: 1.5 }),
    );
  });
  return {
    spec: lineChart(
      fullTitle(input, `${label} p50 / p99 vs offered load`),
      datasets,
      valueAxis('offered load (req/s)', false),
      logY ? valueAxis(`${label} (${unit.name}, log scale)`, true) : valueAxis(`${label} (${unit.name})`, false, { beginAtZero: true, grace: '8%' }),
    ),
  };
}

// ---------------------------------------------------------------------------------------------- bars

function barChart(input: ChartInput, what: string, unitLabel: string, value: (s: ReportSummary) => number | undefined): ChartResult {
  const vals = input.summaries.map(value);
  if (vals.every((v) => v === undefined)) return { skip: `no run has ${what}` };
  const config: ChartConfiguration<'bar', (number | null)[]> = {
    type: 'bar',
    data: {
      labels: input.runs.map((r) => r.label),
      datasets: [
        {
          label: what,
          data: vals.map((v) => (v === undefined ? null : v)),
          backgroundColor: input.runs.map((r) => runColor(r.index)),
          borderColor: input.runs.map((r) => runColor(r.index)),
          borderWidth: 1,
          maxBarThickness: 90,
        },
      ],
    },
    options: {
      layout: { padding: { left: 4, right: 12, top: 16, bottom: 2 } },
      plugins: { title: titlePlugin(fullTitle(input, capitalize(what))), legend: { display: false }, tooltip: { enabled: false } },
      scales: {
        x: { grid: { display: false }, ticks: { font: { size: FONT_SIZE, family: FONT_FAMILY }, color: TEXT_COLOR }, title: axisTitle('run') },
        y: valueAxis(`${what} (${unitLabel})`, false, { beginAtZero: true, grace: '8%' }) as never,
      },
    },
    plugins: [barValueLabels],
  };
  return { spec: { kind: 'chartjs', config: config as unknown as ChartConfiguration } };
}

/** Bars stacked by pool where runs carry per-pool shares (cost, energy), else one bar per run. */
function poolBarChart(input: ChartInput, what: string, unitLabel: string, value: (s: ReportSummary) => number | undefined, key: keyof PoolShare): ChartResult {
  const pools = [...new Set(input.summaries.flatMap((s) => Object.keys(s.pools ?? {}).filter((p) => s.pools![p]![key] !== undefined)))].sort();
  if (pools.length === 0) return barChart(input, what, unitLabel, value);
  const config: ChartConfiguration<'bar', (number | null)[]> = {
    type: 'bar',
    data: {
      labels: input.runs.map((r) => r.label),
      datasets: pools.map((p, j) => ({
        label: `pool ${p}`,
        data: input.summaries.map((s) => s.pools?.[p]?.[key] ?? null),
        backgroundColor: runColor(j),
        borderColor: runColor(j),
        borderWidth: 1,
        maxBarThickness: 90,
      })),
    },
    options: {
      layout: { padding: { left: 4, right: 12, top: 16, bottom: 2 } },
      plugins: {
        title: titlePlugin(fullTitle(input, `${capitalize(what)} by pool`)),
        legend: { display: true, labels: { font: { size: FONT_SIZE, family: FONT_FAMILY }, color: TEXT_COLOR } },
        tooltip: { enabled: false },
      },
      scales: {
        x: { stacked: true, grid: { display: false }, ticks: { font: { size: FONT_SIZE, family: FONT_FAMILY }, color: TEXT_COLOR }, title: axisTitle('run') },
        y: { ...(valueAxis(`${what} (${unitLabel})`, false, { beginAtZero: true, grace: '8%' }) as object), stacked: true } as never,
      },
    },
  };
  return { spec: { kind: 'chartjs', config: config as unknown as ChartConfiguration } };
}

// ---------------------------------------------------------------------------------------------- timelines

const timeAxis = (): LinearOpts => valueAxis('time since run start (s)', false, { min: 0 });

function roleDash(role: string, roles: string[]): number[] {
  return [...DASHES[Math.max(0, roles.indexOf(role)) % DASHES.length]!];
}

function sampledTimeline(input: ChartInput, what: string, name: string | ((r: RunData) => Map<string, Map<string, { t: number; value: number | null }[]>> | undefined), yTitle: (max: number) => { title: string; scale: number }): ChartResult {
  const per: { r: RunData; role: string; pts: Point[] }[] = [];
  for (const r of input.runs) {
    const byRole = typeof name === 'string' ? r.timeline.get(name) : name(r);
    if (!byRole) continue;
    for (const role of [...byRole.keys()].sort()) {
      const pts = bucketedSum(byRole.get(role)!, 0, Math.max(r.spanS, 1e-9), 400);
      if (pts.length > 0) per.push({ r, role, pts });
    }
  }
  if (per.length === 0) return { skip: `no run recorded ${what}` };
  const roles = [...new Set(per.map((p) => p.role))].sort();
  const max = Math.max(...per.flatMap((p) => p.pts.map((q) => q.y)));
  const y = yTitle(max);
  const datasets = per.map(({ r, role, pts }) =>
    lineDataset(`${r.label} · ${role || 'all'}`, pts.map((p) => ({ x: p.x, y: p.y * y.scale })), runColor(r.index), roles.length > 1 ? roleDash(role, roles) : runDash(r.index)),
  );
  return { spec: lineChart(fullTitle(input, `${capitalize(what)} over the run`), datasets, timeAxis(), valueAxis(y.title, false, { beginAtZero: true })) };
}

// ---------------------------------------------------------------------------------------------- breakdown

function breakdownChart(input: ChartInput): ChartResult {
  const runs = input.runs.filter((r) => r.breakdown.queue.length + r.breakdown.prefill.length + r.breakdown.kvTransfer.length > 0);
  if (runs.length === 0) return { skip: 'no run recorded the server-side TTFT breakdown (queue / prefill / KV transfer)' };
  const labels: string[] = [];
  const rows: { r: RunData; stat: 'mean' | 'p50' }[] = [];
  for (const r of runs) for (const stat of ['mean', 'p50'] as const) {
    labels.push(`${r.label} ${stat}`);
    rows.push({ r, stat });
  }
  const parts = [
    ['queue', (r: RunData) => r.breakdown.queue],
    ['prefill', (r: RunData) => r.breakdown.prefill],
    ['KV transfer', (r: RunData) => r.breakdown.kvTransfer],
  ] as const;
  const raw = parts.map(([, get]) => rows.map(({ r, stat }) => (stat === 'mean' ? mean(get(r)) : quantile(get(r), 0.5)) ?? 0));
  const totals = rows.map((_, i) => raw.reduce((s, p) => s + p[i]!, 0));
  const unit = timeUnit(Math.max(...totals));
  const config: ChartConfiguration<'bar', number[]> = {
    type: 'bar',
    data: {
      labels,
      datasets: parts.map(([name], pi) => ({
        label: name,
        data: raw[pi]!.map((v) => v * unit.scale),
        stack: 'ttft',
        backgroundColor: PHASE_FILLS[pi],
        borderColor: rows.map(({ r }) => runColor(r.index)),
        borderWidth: 2,
        maxBarThickness: 70,
      })),
    },
    options: {
      layout: { padding: { left: 4, right: 12, top: 2, bottom: 2 } },
      plugins: {
        title: titlePlugin(fullTitle(input, 'TTFT breakdown: queue, prefill, KV transfer')),
        legend: {
          ...legend,
          labels: {
            ...legend.labels,
            generateLabels: () =>
              parts.map(([name], pi) => ({ text: name, fillStyle: PHASE_FILLS[pi], strokeStyle: '#555555', lineWidth: 1, fontColor: TEXT_COLOR, hidden: false, datasetIndex: pi })),
          },
        },
        tooltip: { enabled: false },
      },
      scales: {
        x: { stacked: true, grid: { display: false }, ticks: { font: { size: FONT_SIZE, family: FONT_FAMILY }, color: TEXT_COLOR, maxRotation: 30, autoSkip: false } },
        y: { ...(valueAxis(`time (${unit.name})`, false, { beginAtZero: true }) as object), stacked: true } as never,
      },
    },
  };
  return { spec: { kind: 'chartjs', config: config as unknown as ChartConfiguration } };
}

// ---------------------------------------------------------------------------------------------- lag

function lagChart(input: ChartInput): ChartResult {
  const runs = input.runs.filter((r) => r.lag.length > 0);
  if (runs.length === 0) return { skip: 'no run has sent requests (no schedule lag recorded)' };
  const lo = Math.min(0, ...runs.map((r) => r.lag[0]!));
  const hi = Math.max(...runs.map((r) => quantile(r.lag, 0.999)!));
  const top = hi > lo ? hi : lo + 0.001;
  const unit = timeUnit(top);
  const bins = 40;
  // stepped 'before' holds each point's value until the next point: bin i spans [edge i, edge i+1]
  const datasets = runs.map((r) => {
    const h = histogram(r.lag, lo, top, bins);
    const pts: Point[] = [{ x: h.edges[0]! * unit.scale, y: 0 }];
    h.fractions.forEach((f, i) => pts.push({ x: h.edges[i]! * unit.scale, y: f }));
    pts.push({ x: h.edges[bins]! * unit.scale, y: h.fractions[bins - 1]! }, { x: h.edges[bins]! * unit.scale, y: 0 });
    return lineDataset(r.label, pts, runColor(r.index), runDash(r.index), { stepped: 'before' as const });
  });
  return {
    spec: lineChart(
      fullTitle(input, 'Schedule lag (send − scheduled)'),
      datasets,
      valueAxis(`lag (${unit.name}; last bin includes everything above p99.9)`, false),
      valueAxis('fraction of requests', false, { beginAtZero: true }),
    ),
  };
}

// ---------------------------------------------------------------------------------------------- SLO matrix

function sloMatrix(input: ChartInput): ChartResult {
  const runs = input.runs.filter((r) => r.slo.length > 0);
  if (runs.length === 0) return { skip: 'no run has SLO verdicts (run `splitbench gate` first)' };
  const rules: string[] = [];
  for (const r of runs) for (const v of r.slo) if (!rules.includes(v.rule)) rules.push(v.rule);
  const rowH = 30;
  const headerH = 70;
  const labelW = 270;
  const width = 700;
  const height = headerH + rules.length * rowH + 16;
  const cellW = Math.min(140, (width - labelW - 12) / runs.length);
  const draw = (ctx: DrawContext): void => {
    ctx.fillStyle = TEXT_COLOR;
    ctx.font = `bold ${TITLE_SIZE}px ${FONT_FAMILY}`;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    ctx.fillText(fullTitle(input, 'SLO verdicts (latest evaluation per rule)'), width / 2, 8);
    ctx.font = `${FONT_SIZE}px ${FONT_FAMILY}`;
    ctx.textBaseline = 'middle';
    runs.forEach((r, j) => {
      const x = labelW + j * cellW + cellW / 2;
      ctx.fillStyle = runColor(r.index);
      ctx.fillRect(x - cellW / 2 + 4, headerH - 10, cellW - 8, 4);
      ctx.fillStyle = TEXT_COLOR;
      ctx.fillText(r.label, x, headerH - 24, cellW - 6);
    });
    rules.forEach((rule, i) => {
      const y = headerH + i * rowH;
      ctx.textAlign = 'right';
      ctx.fillStyle = TEXT_COLOR;
      ctx.fillText(rule, labelW - 10, y + rowH / 2, labelW - 16);
      ctx.textAlign = 'center';
      runs.forEach((r, j) => {
        const x = labelW + j * cellW;
        const v = r.slo.find((s) => s.rule === rule);
        if (!v) {
          ctx.strokeStyle = GRID_COLOR;
          ctx.lineWidth = 1;
          ctx.strokeRect(x + 2, y + 2, cellW - 4, rowH - 4);
          ctx.fillStyle = '#777777';
          ctx.fillText('–', x + cellW / 2, y + rowH / 2);
          return;
        }
        ctx.fillStyle = v.passed ? PASS_COLOR : FAIL_COLOR;
        ctx.fillRect(x + 2, y + 2, cellW - 4, rowH - 4);
        ctx.fillStyle = '#ffffff';
        const text = `${v.passed ? 'pass' : 'FAIL'}${v.value !== null ? ` ${fmtNumber(v.value)}` : ''}`;
        ctx.fillText(text, x + cellW / 2, y + rowH / 2, cellW - 8);
      });
    });
  };
  return { spec: { kind: 'draw', draw: draw, width, height } };
}

// ---------------------------------------------------------------------------------------------- registry

const inFlight = (input: ChartInput): ChartResult => {
  const runs = input.runs.filter((r) => r.intervals.length > 0 && r.spanS > 0);
  if (runs.length === 0) return { skip: 'no run has sent requests' };
  const datasets = runs.map((r) => lineDataset(r.label, inFlightSeries(r.intervals, 0, r.spanS, 400), runColor(r.index), runDash(r.index)));
  return {
    spec: lineChart(fullTitle(input, 'Requests in flight (from send and end times)'), datasets, timeAxis(), valueAxis('requests in flight (mean per slice)', false, { beginAtZero: true })),
  };
};

const BUILDERS: Record<ChartName, (input: ChartInput) => ChartResult> = {
  'cdf-ttft': (i) => cdfChart(i, 'TTFT', 'requests', (r) => arrayCdf(r.ttft)),
  'cdf-tpot': (i) => cdfChart(i, 'TPOT', 'requests', (r) => arrayCdf(r.tpot)),
  'cdf-tbt': (i) =>
    cdfChart(i, 'time between tokens', 'tokens', (r) => {
      const pts = r.tbt.cdfPoints(600);
      return { points: (scale) => r.tbt.cdfPoints(600, scale), min: pts[0]?.x, max: pts[pts.length - 1]?.x };
    }),
  'cdf-e2e': (i) => cdfChart(i, 'E2E latency', 'requests', (r) => arrayCdf(r.e2e)),
  'load-ttft': (i) => loadChart(i, 'ttft', 'TTFT'),
  'load-tpot': (i) => loadChart(i, 'tpot', 'TPOT'),
  'load-e2e': (i) => loadChart(i, 'e2e', 'E2E latency'),
  throughput: (i) => barChart(i, 'throughput', 'req/s', (s) => s.throughputRps),
  'output-throughput': (i) => barChart(i, 'output token throughput', 'tok/s', (s) => s.outputTokPerS),
  goodput: (i) => barChart(i, 'goodput', 'req/s', (s) => s.goodputRps),
  cost: (i) => poolBarChart(i, 'cost per 1M output tokens', '$/1M tokens', (s) => s.costPer1MOutputUsd, 'costPer1MOutputUsd'),
  energy: (i) => poolBarChart(i, 'energy per output token', 'J/token', (s) => s.energyPerOutputTokenJ, 'energyPerOutputTokenJ'),
  'timeline-inflight': inFlight,
  'timeline-queue': (i) => sampledTimeline(i, 'queue depth', 'queue_depth', () => ({ title: 'queued requests', scale: 1 })),
  'timeline-power': (i) =>
    sampledTimeline(i, 'power per pool', (r) => (r.power.size > 0 ? r.power : undefined), (max) =>
      max >= 10_000 ? { title: 'power (kW)', scale: 1e-3 } : { title: 'power (W)', scale: 1 },
    ),
  'ttft-breakdown': breakdownChart,
  'lag-histogram': lagChart,
  'slo-matrix': sloMatrix,
};

export const CHARTS: readonly ChartDef[] = CHART_INFO.map((c) => ({ ...c, build: BUILDERS[c.name] }));


