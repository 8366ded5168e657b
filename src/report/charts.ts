/**
 * The chart registry: every chart a report can draw, by name (`--chart NAME`), each building a chart spec
 * and the table of numbers it draws (written as `<name>.csv` beside the image) from the loaded runs, or
 * saying why it has nothing to draw (the reason goes into report.md).
 *
 * Runs that differ only by seed (`seedGroupKey`) form one series: one colour, one legend entry, and the
 * mean across seeds with bars or a band spanning the min–max of the seeds.
 */
import type { Chart, ChartConfiguration, ChartDataset, Plugin, ScaleOptionsByType, CartesianScaleTypeRegistry } from 'chart.js';
import type { SloSpec } from '../metrics/index.js';
import type { RequestPoint, RunData, TimedValue } from './data.js';
import type { ChartSpec, DrawContext } from './render.js';
import { bucketedSum, cdfPoints, inFlightSeries, quantile, sortedFinite, spansDecades, type Point } from './stats.js';
import {
  ensureFonts,
  FAIL_FILL,
  FAIL_TEXT,
  FONT_FAMILY,
  FONT_SIZE,
  GRID_COLOR,
  LIMIT_COLOR,
  PASS_FILL,
  PASS_TEXT,
  BREAKDOWN_FILLS,
  poolDash,
  poolFill,
  runColor,
  runDash,
  TEXT_COLOR,
  TITLE_SIZE,
  withAlpha,
} from './style.js';
import { fmtNumber, type PoolShare, type ReportSummary } from './summary.js';
import { CHART_INFO, type ChartInfo, type ChartName } from './registry.js';
import { Canvas } from '@napi-rs/canvas';

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
  /** The --slo file: attainment charts. */
  readonly slo?: SloSpec | undefined;
  /** Legend text for deployments (--label DEPLOYMENT=TEXT), used by the sweep charts. */
  readonly labels?: ReadonlyMap<string, string>;
  /** CDFs: end the x axis at this quantile of the values (--clip, e.g. 0.999). */
  readonly clip?: number | undefined;
  readonly title?: string;
}

/** The numbers a chart draws, one row per plotted value; written as CSV beside the image. */
export interface Csv {
  readonly header: readonly string[];
  readonly rows: readonly (readonly (string | number | null)[])[];
}

export type ChartResult = { readonly spec: ChartSpec; readonly csv: Csv } | { readonly skip: string };

export interface ChartDef extends ChartInfo {
  build(input: ChartInput): ChartResult;
}

// ---------------------------------------------------------------------------------------------- series

/** Runs that differ only by seed, drawn as one. */
export interface Series {
  readonly index: number;
  readonly label: string;
  readonly color: string;
  readonly dash: number[];
  readonly runs: readonly RunData[];
  readonly summaries: readonly ReportSummary[];
}

/** `-s3`, `_s3`, `.s3`, `-seed3`, ` seed 3` at the end of a label: what names a seed. */
const SEED_SUFFIX = /(?:[-_.]s|[-_.\s]seed[-_\s]?)\d+$/i;

/** Group runs by `groupKey`, in first-appearance order; the series' colour follows that order. */
export function seriesOf(input: Pick<ChartInput, 'runs' | 'summaries'>): Series[] {
  const groups = new Map<string, { runs: RunData[]; summaries: ReportSummary[] }>();
  input.runs.forEach((r, i) => {
    const g = groups.get(r.groupKey) ?? { runs: [], summaries: [] };
    groups.set(r.groupKey, g);
    g.runs.push(r);
    g.summaries.push(input.summaries[i]!);
  });
  return [...groups.values()].map((g, index) => {
    let label = g.runs[0]!.label;
    if (g.runs.length > 1) {
      const same = g.runs.every((r) => r.label === label);
      const base = label.replace(SEED_SUFFIX, '');
      label = `${same ? label : base !== label ? base : `${label} +${g.runs.length - 1}`} (${g.runs.length} seeds)`;
    }
    return { index, label, color: runColor(index), dash: runDash(index), runs: g.runs, summaries: g.summaries };
  });
}

export interface Agg {
  readonly mean: number;
  readonly min: number;
  readonly max: number;
  readonly n: number;
}

/** Mean, min and max of the defined values (undefined when none is). */
export function agg(values: readonly (number | undefined)[]): Agg | undefined {
  const v = values.filter((x): x is number => x !== undefined && Number.isFinite(x));
  if (v.length === 0) return undefined;
  return { mean: v.reduce((a, b) => a + b, 0) / v.length, min: Math.min(...v), max: Math.max(...v), n: v.length };
}

const runIds = (s: Series): string => s.runs.map((r) => r.info.id).join(' ');

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
const r6 = (v: number): number => Number(v.toPrecision(6));

function fullTitle(input: ChartInput, text: string): string {
  return input.title ? `${input.title}: ${text}` : text;
}

function titlePlugin(text: string) {
  return { display: true, text, font: { size: TITLE_SIZE, weight: 'bold' as const, family: FONT_FAMILY }, color: TEXT_COLOR, padding: { top: 4, bottom: 6 } };
}

const legendBase = {
  display: true,
  position: 'top' as const,
  labels: { boxWidth: 26, boxHeight: 10, font: { size: FONT_SIZE, family: FONT_FAMILY }, color: TEXT_COLOR },
};

/** A legend entry drawn as a short line. */
export interface KeyEntry {
  readonly text: string;
  readonly color: string;
  readonly dash: number[];
}

/**
 * Line charts: a legend of explicit entries (series colours, then style keys such as pools or p50/p99),
 * so a chart of runs × pools lists runs + pools, not their product. Without entries: one per dataset
 * that has a label (bands have none).
 */
function lineLegend(entries?: readonly KeyEntry[]) {
  return {
    ...legendBase,
    labels: {
      ...legendBase.labels,
      usePointStyle: true,
      pointStyle: 'line' as const,
      pointStyleWidth: 34,
      // chart.js takes a line legend's dash from the first point, not the dataset: read the dataset
      generateLabels: (chart: { data: { datasets: ChartDataset<'line', Point[]>[] } }) => {
        const list: KeyEntry[] = entries
          ? [...entries]
          : chart.data.datasets
              .filter((d) => d.label)
              .map((d) => ({ text: String(d.label), color: d.borderColor as string, dash: (d.borderDash as number[] | undefined) ?? [] }));
        return list.map((e, i) => ({
          text: e.text,
          fillStyle: e.color,
          strokeStyle: e.color,
          lineDash: e.dash,
          lineWidth: 2.5,
          pointStyle: 'line' as const,
          fontColor: TEXT_COLOR,
          hidden: false,
          datasetIndex: i,
        }));
      },
    },
  };
}

/** Bar charts: a legend of filled boxes with a grey outline, one per entry, in dataset order. */
function fillLegend(entries: readonly { readonly text: string; readonly fill: string | undefined }[]) {
  return {
    ...legendBase,
    labels: {
      ...legendBase.labels,
      generateLabels: () =>
        entries.map((e, i) => ({
          text: e.text,
          fillStyle: e.fill,
          strokeStyle: '#555555',
          lineWidth: 1,
          fontColor: TEXT_COLOR,
          hidden: false,
          datasetIndex: i,
        })),
    },
  };
}

type LinearOpts = Partial<ScaleOptionsByType<keyof CartesianScaleTypeRegistry>>;

function axisTitle(text: string | string[]) {
  return { display: true, text, font: { size: FONT_SIZE, family: FONT_FAMILY }, color: TEXT_COLOR };
}

/** Log axis labels at 1, 2, 5 × 10^k; only at powers of ten when the axis spans more than three decades. */
export function logTick(value: number | string, decades: number): string {
  const v = Number(value);
  if (!(v > 0)) return '';
  const m = v / 10 ** Math.floor(Math.log10(v) + 1e-9);
  const marks = decades > 3 ? [1] : [1, 2, 5];
  if (!marks.some((k) => Math.abs(m - k) < 1e-6)) return '';
  // Powers of ten far from 1 as 1e-5, not 0.0000100.
  return v < 1e-3 || v >= 1e6 ? v.toExponential(0).replace('e+', 'e') : fmtNumber(v);
}

interface AxisOpts {
  readonly log?: boolean;
  /** Span of the data in decades (log axes: picks the tick density). */
  readonly decades?: number;
  /** Counts: integer ticks only. */
  readonly integer?: boolean;
  readonly extra?: LinearOpts;
}

function valueAxis(title: string, o: AxisOpts = {}): LinearOpts {
  const log = o.log ?? false;
  return {
    type: log ? 'logarithmic' : 'linear',
    title: axisTitle(title),
    grid: { color: GRID_COLOR },
    border: { color: '#888888' },
    ticks: {
      font: { size: FONT_SIZE, family: FONT_FAMILY },
      color: TEXT_COLOR,
      maxRotation: 0,
      ...(log ? { callback: (v: number | string) => logTick(v, o.decades ?? 1), autoSkip: false } : { callback: (v: number | string) => fmtNumber(Number(v)) }),
      ...(o.integer ? { precision: 0 } : {}),
    },
    ...(o.extra ?? {}),
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

/** Two unlabelled datasets whose area between them is filled: a min–max band. */
function bandDatasets(lo: Point[], hi: Point[], color: string): ChartDataset<'line', Point[]>[] {
  return [
    lineDataset('', lo, withAlpha(color, 0), [], { borderWidth: 0 }),
    lineDataset('', hi, withAlpha(color, 0), [], { borderWidth: 0, fill: '-1', backgroundColor: withAlpha(color, 0.22) } as never),
  ];
}

/** One whisker: a vertical bar at pixel x from y0 to y1 with 10-px caps (stroke style set by the caller). */
export function drawWhisker(ctx: Pick<Chart['ctx'], 'beginPath' | 'moveTo' | 'lineTo' | 'stroke'>, x: number, y0: number, y1: number): void {
  ctx.beginPath();
  ctx.moveTo(x, y0);
  ctx.lineTo(x, y1);
  ctx.moveTo(x - 5, y0);
  ctx.lineTo(x + 5, y0);
  ctx.moveTo(x - 5, y1);
  ctx.lineTo(x + 5, y1);
  ctx.stroke();
}

/** Whiskers: datasets carrying `errorBars[i] = {lo, hi}` (data units) get a vertical bar at point i. */
const errorBarPlugin: Plugin = {
  id: 'splitbenchErrorBars',
  afterDatasetsDraw(chart) {
    const ctx = chart.ctx;
    ctx.save();
    chart.data.datasets.forEach((ds, di) => {
      const bars = (ds as { errorBars?: ({ lo: number; hi: number } | null)[] }).errorBars;
      if (!bars) return;
      const meta = chart.getDatasetMeta(di);
      const yScale = chart.scales[meta.yAxisID ?? 'y']!;
      ctx.strokeStyle = (ds as { errorColor?: string }).errorColor ?? '#222222';
      ctx.lineWidth = 1.5;
      meta.data.forEach((el, i) => {
        const b = bars[i];
        if (!b || !Number.isFinite(b.lo) || !Number.isFinite(b.hi) || b.hi <= b.lo) return;
        const { x } = el.getProps(['x'], true) as { x: number };
        drawWhisker(ctx, x, yScale.getPixelForValue(b.lo), yScale.getPixelForValue(b.hi));
      });
    });
    ctx.restore();
  },
};

function lineChart(
  title: string,
  datasets: ChartDataset<'line', Point[]>[],
  x: LinearOpts,
  y: LinearOpts,
  legend?: readonly KeyEntry[],
  extraScales: Record<string, LinearOpts> = {},
): ChartSpec {
  const config: ChartConfiguration<'line', Point[]> = {
    type: 'line',
    data: { datasets },
    options: {
      parsing: false,
      normalized: true,
      layout: { padding: { left: 4, right: 12, top: 2, bottom: 2 } },
      plugins: { title: titlePlugin(title), legend: lineLegend(legend) as never, tooltip: { enabled: false } },
      scales: { x, y, ...extraScales },
    },
    plugins: [errorBarPlugin as Plugin<'line'>],
  };
  return { kind: 'chartjs', config: config as unknown as ChartConfiguration };
}

/** Draw each bar's value above it (papers are read without hovering); above the whisker when there is one. */
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
      if ((ds as { stack?: string }).stack || (ds as { noValueLabels?: boolean }).noValueLabels) return;
      const meta = chart.getDatasetMeta(di);
      const bars = (ds as { errorBars?: ({ lo: number; hi: number } | null)[] }).errorBars;
      meta.data.forEach((el, i) => {
        const v = ds.data[i];
        if (typeof v !== 'number' || !Number.isFinite(v)) return;
        const { x, y } = el.getProps(['x', 'y'], true) as { x: number; y: number };
        const top = bars?.[i] ? Math.min(y, chart.scales['y']!.getPixelForValue(bars[i]!.hi)) : y;
        ctx.fillText(fmtNumber(v), x, top - 3);
      });
    });
    ctx.restore();
  },
};

function spec(config: ChartConfiguration<'bar', (number | null)[]> | ChartConfiguration<'bar', number[]>): ChartSpec {
  return { kind: 'chartjs', config: config as unknown as ChartConfiguration };
}

const categoryAxis = (title?: string, stacked = false) => ({
  stacked,
  grid: { display: false },
  ticks: { font: { size: FONT_SIZE, family: FONT_FAMILY }, color: TEXT_COLOR, maxRotation: 30, autoSkip: false },
  ...(title ? { title: axisTitle(title) } : {}),
});

// ---------------------------------------------------------------------------------------------- CDFs

/** A distribution of one run: its quantile function and points for drawing. */
interface Dist {
  readonly min: number | undefined;
  readonly max: number | undefined;
  quantile(q: number): number | undefined;
  points(scale: number): Point[];
}

function arrayDist(values: Float64Array): Dist {
  return {
    min: values.length ? values[0] : undefined,
    max: values.length ? values[values.length - 1] : undefined,
    quantile: (q) => quantile(values, q),
    points: (scale) => cdfPoints(values, 600, scale),
  };
}

/** Probabilities the seed bands are drawn at: every 1% and finer in the top 1%. */
const BAND_PROBS = [...Array.from({ length: 100 }, (_, i) => i / 100), ...Array.from({ length: 11 }, (_, i) => 0.99 + i * 0.001)];

/** The CDF starts at 0: a vertical step from (first value, 0) (ties at the minimum would start it higher). */
function fromZero(pts: Point[]): Point[] {
  return pts.length === 0 || pts[0]!.y === 0 ? pts : [{ x: pts[0]!.x, y: 0 }, ...pts];
}

function cdfChart(input: ChartInput, what: string, of: 'requests' | 'tokens', dist: (r: RunData) => Dist): ChartResult {
  const series = seriesOf(input)
    .map((s) => ({ s, d: s.runs.map(dist).filter((d) => d.max !== undefined) }))
    .filter((x) => x.d.length > 0);
  if (series.length === 0) return { skip: `no run has ${what} values (no completed requests with them)` };
  const all = series.flatMap((x) => x.d);
  let maxS = Math.max(...all.map((d) => d.max!));
  const clip = input.clip;
  if (clip !== undefined) {
    // Up to two significant digits, so the last tick is a round number.
    const m = Math.max(...all.map((d) => d.quantile(clip)!));
    const step = m > 0 ? 10 ** (Math.floor(Math.log10(m)) - 1) : 1;
    maxS = m > 0 ? Math.ceil(m / step - 1e-9) * step : m;
  }
  const positives = all.map((d) => d.min!).filter((v) => v > 0);
  const minPos = positives.length > 0 ? Math.min(...positives) : 0;
  const log = spansDecades(minPos, maxS);
  const decades = log ? Math.log10(maxS / minPos) : 0;
  const unit = timeUnit(maxS);
  const datasets: ChartDataset<'line', Point[]>[] = [];
  const rows: (string | number)[][] = [];
  const keepX = (p: Point): boolean => !log || p.x > 0;
  for (const { s, d } of series) {
    if (d.length === 1) {
      const pts = fromZero(d[0]!.points(unit.scale).filter(keepX));
      datasets.push(lineDataset(s.label, pts, s.color, s.dash));
      for (const p of pts) rows.push([s.label, runIds(s), r6(p.y), r6(p.x), r6(p.x), r6(p.x)]);
      continue;
    }
    // Several seeds: the mean quantile, and a band over the seeds' min..max at each probability.
    const mid: Point[] = [];
    const lo: Point[] = [];
    const hi: Point[] = [];
    for (const q of BAND_PROBS) {
      const a = agg(d.map((x) => x.quantile(q)));
      if (!a) continue;
      mid.push({ x: a.mean * unit.scale, y: q });
      lo.push({ x: a.min * unit.scale, y: q });
      hi.push({ x: a.max * unit.scale, y: q });
      rows.push([s.label, runIds(s), q, r6(a.mean * unit.scale), r6(a.min * unit.scale), r6(a.max * unit.scale)]);
    }
    const ok = (pts: Point[]): Point[] => fromZero(pts.filter(keepX));
    datasets.push(...bandDatasets(ok(lo), ok(hi), s.color), lineDataset(s.label, ok(mid), s.color, s.dash));
  }
  const clipNote = clip !== undefined ? `, axis ends at p${fmtNumber(clip * 100)}` : '';
  return {
    spec: lineChart(
      fullTitle(input, `CDF of ${what}`),
      datasets,
      valueAxis(`${what} (${unit.name}${log ? ', log scale' : ''}${clipNote})`, {
        log,
        decades,
        extra: { ...(clip !== undefined ? { max: maxS * unit.scale } : {}), ...(log ? {} : { min: 0 }) },
      }),
      valueAxis(`fraction of ${of}`, { extra: { min: 0, max: 1 } }),
    ),
    csv: { header: ['series', 'runs', 'fraction', `${what} (${unit.name})`, `min over seeds (${unit.name})`, `max over seeds (${unit.name})`], rows },
  };
}

// ---------------------------------------------------------------------------------------------- sweeps

interface SweepPoint {
  readonly rate: number;
  readonly summaries: ReportSummary[];
  readonly runs: RunData[];
}
interface Sweep {
  readonly key: string;
  readonly label: string;
  readonly color: string;
  readonly dash: number[];
  readonly points: SweepPoint[];
}

/**
 * Runs grouped by configuration less the offered rate (`sweepKey`); a group with two or more distinct
 * offered rates is a sweep. Its runs at one rate (seeds) are one point. Label: the deployment (or its
 * --label); colour: the group's first series.
 */
export function findSweeps(input: ChartInput): Sweep[] {
  const series = seriesOf(input);
  const colourOf = new Map<RunData, Series>();
  for (const s of series) for (const r of s.runs) colourOf.set(r, s);
  const groups = new Map<string, { dep: string; first: Series; points: Map<number, SweepPoint> }>();
  input.runs.forEach((r, i) => {
    if (r.info.offeredRate === null) return;
    const g = groups.get(r.sweepKey) ?? {
      dep: r.info.deployment ?? r.info.target ?? '(no deployment)',
      first: colourOf.get(r)!,
      points: new Map<number, SweepPoint>(),
    };
    groups.set(r.sweepKey, g);
    const p = g.points.get(r.info.offeredRate) ?? { rate: r.info.offeredRate, summaries: [], runs: [] };
    g.points.set(r.info.offeredRate, p);
    p.summaries.push(input.summaries[i]!);
    p.runs.push(r);
  });
  const out: Sweep[] = [];
  for (const g of groups.values()) {
    if (g.points.size < 2) continue;
    const base = input.labels?.get(g.dep) ?? g.dep;
    const n = out.filter((o) => o.key === g.dep).length;
    out.push({
      key: g.dep,
      label: n === 0 ? base : `${base} (${n + 1})`,
      color: g.first.color,
      dash: g.first.dash,
      points: [...g.points.values()].sort((a, b) => a.rate - b.rate),
    });
  }
  return out;
}

const ERR = (a: Agg | undefined, scale = 1): { lo: number; hi: number } | null => (a && a.n > 1 ? { lo: a.min * scale, hi: a.max * scale } : null);

function loadChart(input: ChartInput, metric: 'ttft' | 'tpot' | 'e2e', label: string): ChartResult {
  const sweeps = findSweeps(input);
  if (sweeps.length === 0) return { skip: 'no sweep among the runs (needs two or more runs of one deployment at different offered rates)' };
  const p50 = `${metric}P50S` as const;
  const p99 = `${metric}P99S` as const;
  const values = sweeps.flatMap((s) => s.points.flatMap((p) => p.summaries.flatMap((x) => [x[p50], x[p99]]))).filter((v): v is number => v !== undefined);
  const limits = input.sloLimits.filter((l) => l.metric === metric);
  if (values.length === 0) return { skip: `no ${label} percentiles in the sweep runs` };
  const all = [...values, ...limits.map((l) => l.limitS)];
  const unit = timeUnit(Math.max(...all));
  const positive = all.filter((v) => v > 0);
  const logY = positive.length === all.length && spansDecades(Math.min(...positive), Math.max(...positive));
  const rates = sweeps.flatMap((s) => s.points.map((p) => p.rate));
  const [rMin, rMax] = [Math.min(...rates), Math.max(...rates)];
  const datasets: ChartDataset<'line', Point[]>[] = [];
  const rows: (string | number | null)[][] = [];
  for (const s of sweeps) {
    for (const [k, name, dash, style] of [
      [p99, 'p99', [] as number[], 'circle'],
      [p50, 'p50', [6, 4], 'rect'],
    ] as const) {
      const pts: Point[] = [];
      const bars: ({ lo: number; hi: number } | null)[] = [];
      for (const p of s.points) {
        const a = agg(p.summaries.map((x) => x[k]));
        if (!a) continue;
        pts.push({ x: p.rate, y: a.mean * unit.scale });
        bars.push(ERR(a, unit.scale));
        rows.push([
          s.label,
          name,
          p.rate,
          p.runs.map((r) => r.info.id).join(' '),
          a.n,
          r6(a.mean * unit.scale),
          r6(a.min * unit.scale),
          r6(a.max * unit.scale),
        ]);
      }
      datasets.push(
        lineDataset(`${s.label} ${name}`, pts, s.color, [...dash], { pointRadius: 3, pointStyle: style, errorBars: bars, errorColor: s.color } as never),
      );
    }
  }
  const limitDashes = [
    [4, 3],
    [1, 3],
    [10, 3, 2, 3],
  ];
  const keys: KeyEntry[] = [
    ...sweeps.map((s) => ({ text: s.label, color: s.color, dash: [] })),
    { text: 'p99', color: '#555555', dash: [] },
    { text: 'p50', color: '#555555', dash: [6, 4] },
  ];
  limits.forEach((l, i) => {
    const dash = limitDashes[i % limitDashes.length]!;
    datasets.push(
      lineDataset(
        `SLO ${l.label}`,
        [
          { x: rMin, y: l.limitS * unit.scale },
          { x: rMax, y: l.limitS * unit.scale },
        ],
        LIMIT_COLOR,
        [...dash],
        { borderWidth: 1.5 },
      ),
    );
    keys.push({ text: `SLO ${l.label}`, color: LIMIT_COLOR, dash: [...dash] });
  });
  return {
    spec: lineChart(
      fullTitle(input, `${label} p50 / p99 vs offered load`),
      datasets,
      valueAxis('offered load (req/s)'),
      logY
        ? valueAxis(`${label} (${unit.name}, log scale)`, { log: true, decades: Math.log10(Math.max(...positive) / Math.min(...positive)) })
        : valueAxis(`${label} (${unit.name})`, { extra: { beginAtZero: true, grace: '8%' } }),
      keys,
    ),
    csv: {
      header: ['deployment', 'stat', 'offered load (req/s)', 'runs', 'seeds', `${label} mean (${unit.name})`, `min (${unit.name})`, `max (${unit.name})`],
      rows,
    },
  };
}

// ---------------------------------------------------------------------------------------------- bars

function barChart(input: ChartInput, what: string, unitLabel: string, value: (s: ReportSummary) => number | undefined): ChartResult {
  const series = seriesOf(input);
  const aggs = series.map((s) => agg(s.summaries.map(value)));
  if (aggs.every((a) => a === undefined)) return { skip: `no run has ${what}` };
  const config: ChartConfiguration<'bar', (number | null)[]> = {
    type: 'bar',
    data: {
      labels: series.map((s) => s.label),
      datasets: [
        {
          label: what,
          data: aggs.map((a) => (a === undefined ? null : a.mean)),
          backgroundColor: series.map((s) => s.color),
          borderColor: series.map((s) => s.color),
          borderWidth: 1,
          maxBarThickness: 90,
          errorBars: aggs.map((a) => ERR(a)),
        } as never,
      ],
    },
    options: {
      layout: { padding: { left: 4, right: 12, top: 16, bottom: 2 } },
      plugins: {
        title: titlePlugin(fullTitle(input, capitalize(what) + (series.some((s) => s.runs.length > 1) ? ' (mean; bars: min–max over seeds)' : ''))),
        legend: { display: false },
        tooltip: { enabled: false },
      },
      scales: {
        x: categoryAxis('run'),
        y: valueAxis(`${what} (${unitLabel})`, { extra: { beginAtZero: true, grace: '12%' } }) as never,
      },
    },
    plugins: [barValueLabels, errorBarPlugin as Plugin<'bar'>],
  };
  return {
    spec: spec(config),
    csv: {
      header: ['series', 'runs', 'seeds', `${what} mean (${unitLabel})`, `min (${unitLabel})`, `max (${unitLabel})`],
      rows: series.map((s, i) => [
        s.label,
        runIds(s),
        aggs[i]?.n ?? 0,
        aggs[i] ? r6(aggs[i]!.mean) : null,
        aggs[i] ? r6(aggs[i]!.min) : null,
        aggs[i] ? r6(aggs[i]!.max) : null,
      ]),
    },
  };
}

/** Bars stacked by pool where runs carry per-pool shares (cost, energy), else one bar per series. */
function poolBarChart(input: ChartInput, what: string, unitLabel: string, value: (s: ReportSummary) => number | undefined, key: keyof PoolShare): ChartResult {
  const pools = [...new Set(input.summaries.flatMap((s) => Object.keys(s.pools ?? {}).filter((p) => s.pools![p]![key] !== undefined)))].sort();
  if (pools.length === 0) return barChart(input, what, unitLabel, value);
  const series = seriesOf(input);
  const share = (s: Series, p: string): Agg | undefined => agg(s.summaries.map((x) => x.pools?.[p]?.[key]));
  const totals = series.map((s) =>
    agg(
      s.summaries.map((x) =>
        pools.reduce<number | undefined>((acc, p) => (x.pools?.[p]?.[key] === undefined ? acc : (acc ?? 0) + x.pools[p]![key]!), undefined),
      ),
    ),
  );
  const config: ChartConfiguration<'bar', (number | null)[]> = {
    type: 'bar',
    data: {
      labels: series.map((s) => s.label),
      datasets: pools.map((p, j) => ({
        label: `pool ${p}`,
        data: series.map((s) => share(s, p)?.mean ?? null),
        backgroundColor: poolFill(p, pools),
        borderColor: series.map((s) => s.color),
        borderWidth: 2,
        maxBarThickness: 90,
        ...(j === pools.length - 1 ? { errorBars: totals.map((a) => ERR(a)) } : {}),
      })) as never,
    },
    options: {
      layout: { padding: { left: 4, right: 12, top: 16, bottom: 2 } },
      plugins: {
        title: titlePlugin(fullTitle(input, `${capitalize(what)} by pool`)),
        legend: fillLegend(pools.map((p) => ({ text: `pool ${p}`, fill: poolFill(p, pools) }))),
        tooltip: { enabled: false },
      },
      scales: {
        x: categoryAxis('run (outline colour)', true),
        y: { ...(valueAxis(`${what} (${unitLabel})`, { extra: { beginAtZero: true, grace: '8%' } }) as object), stacked: true } as never,
      },
    },
    plugins: [errorBarPlugin as Plugin<'bar'>],
  };
  const rows: (string | number | null)[][] = [];
  for (const s of series)
    for (const p of pools) {
      const a = share(s, p);
      rows.push([s.label, runIds(s), p, a?.n ?? 0, a ? r6(a.mean) : null, a ? r6(a.min) : null, a ? r6(a.max) : null]);
    }
  return {
    spec: spec(config),
    csv: { header: ['series', 'runs', 'pool', 'seeds', `${what} mean (${unitLabel})`, `min (${unitLabel})`, `max (${unitLabel})`], rows },
  };
}

// ---------------------------------------------------------------------------------------------- timelines

const timeAxis = (): LinearOpts => valueAxis('time since run start (s)', { extra: { min: 0 } });

/** Points of several runs on one bucket grid → mean and min/max per x present in every run. */
function bandOf(list: readonly Point[][]): { mid: Point[]; lo: Point[]; hi: Point[] } {
  const byX = new Map<number, number[]>();
  for (const pts of list)
    for (const p of pts) {
      const arr = byX.get(p.x) ?? [];
      byX.set(p.x, arr);
      arr.push(p.y);
    }
  const xs = [...byX.keys()].sort((a, b) => a - b);
  const mid: Point[] = [];
  const lo: Point[] = [];
  const hi: Point[] = [];
  for (const x of xs) {
    const a = agg(byX.get(x)!)!;
    mid.push({ x, y: a.mean });
    lo.push({ x, y: a.min });
    hi.push({ x, y: a.max });
  }
  return { mid, lo, hi };
}

/** Pool of a timeline series: its `pool` label when it has one (live scrapes), else its role. */
function poolOfKey(role: string, key: string): string {
  const i = key.indexOf('|');
  try {
    const labels = JSON.parse(key.slice(i + 1)) as Record<string, string>;
    if (labels.pool) return labels.pool;
  } catch {
    // not JSON: the role names it
  }
  return role || 'all';
}

/** A run's series of one timeline name, regrouped by pool. */
function byPool(r: RunData, name: string): Map<string, Map<string, TimedValue[]>> {
  const out = new Map<string, Map<string, TimedValue[]>>();
  for (const [role, bySeries] of r.timeline.get(name) ?? []) {
    for (const [key, samples] of bySeries) {
      const pool = poolOfKey(role, key);
      const m = out.get(pool) ?? new Map<string, TimedValue[]>();
      out.set(pool, m);
      m.set(`${role}|${key}`, samples);
    }
  }
  return out;
}

type Combine = 'sum' | 'mean';

function poolTimeline(
  input: ChartInput,
  what: string,
  get: (r: RunData) => Map<string, Map<string, TimedValue[]>>,
  y: (max: number) => { title: string; scale: number; integer?: boolean; max?: number },
  combine: Combine = 'sum',
): ChartResult {
  const series = seriesOf(input);
  const per: { s: Series; pool: string; runs: Point[][]; t1: number }[] = [];
  for (const s of series) {
    const t1 = Math.max(...s.runs.map((r) => r.spanS), 1e-9);
    const pools = new Map<string, Point[][]>();
    for (const r of s.runs) {
      for (const [pool, bySeries] of get(r)) {
        let pts = bucketedSum(bySeries, 0, t1, 400);
        if (combine === 'mean' && bySeries.size > 1) pts = pts.map((p) => ({ x: p.x, y: p.y / bySeries.size }));
        if (pts.length === 0) continue;
        const arr = pools.get(pool) ?? [];
        pools.set(pool, arr);
        arr.push(pts);
      }
    }
    for (const pool of [...pools.keys()].sort()) per.push({ s, pool, runs: pools.get(pool)!, t1 });
  }
  if (per.length === 0) return { skip: `no run recorded ${what}` };
  const pools = [...new Set(per.map((p) => p.pool))].sort();
  const max = Math.max(...per.flatMap((p) => p.runs.flatMap((pts) => pts.map((q) => q.y))));
  const yy = y(max);
  const datasets: ChartDataset<'line', Point[]>[] = [];
  const rows: (string | number)[][] = [];
  const scaled = (pts: Point[]): Point[] => pts.map((p) => ({ x: p.x, y: p.y * yy.scale }));
  const t1Of = (s: Series): number => per.find((p) => p.s === s)?.t1 ?? 1;
  for (const { s, pool, runs } of per) {
    const dash = pools.length > 1 ? poolDash(pool, pools) : s.dash;
    const label = pools.length > 1 ? `${s.label} · ${pool}` : s.label;
    if (runs.length === 1) {
      const pts = scaled(runs[0]!);
      // Where the pool had no machine (its machines were borrowed), the line stops instead of bridging the gap.
      const w = (t1Of(s) / 400) * 1.5;
      const broken: Point[] = [];
      for (let k = 0; k < pts.length; k++) {
        if (k > 0 && pts[k]!.x - pts[k - 1]!.x > w) broken.push({ x: (pts[k]!.x + pts[k - 1]!.x) / 2, y: Number.NaN });
        broken.push(pts[k]!);
      }
      datasets.push(lineDataset(label, broken, s.color, dash));
      for (const p of pts) rows.push([s.label, runIds(s), pool, r6(p.x), r6(p.y), r6(p.y), r6(p.y)]);
    } else {
      const b = bandOf(runs);
      datasets.push(...bandDatasets(scaled(b.lo), scaled(b.hi), s.color), lineDataset(label, scaled(b.mid), s.color, dash));
      b.mid.forEach((p, i) => {
        rows.push([s.label, runIds(s), pool, r6(p.x), r6(p.y * yy.scale), r6(b.lo[i]!.y * yy.scale), r6(b.hi[i]!.y * yy.scale)]);
      });
    }
  }
  const keys: KeyEntry[] = [...new Map(per.map((p) => [p.s.index, { text: p.s.label, color: p.s.color, dash: pools.length > 1 ? [] : p.s.dash }])).values()];
  if (pools.length > 1) for (const p of pools) keys.push({ text: `pool ${p}`, color: '#555555', dash: poolDash(p, pools) });
  return {
    spec: lineChart(
      fullTitle(input, `${capitalize(what)} over the run`),
      datasets,
      timeAxis(),
      valueAxis(yy.title, { integer: yy.integer ?? false, extra: { beginAtZero: true, ...(yy.max !== undefined ? { max: yy.max } : {}) } }),
      keys,
    ),
    csv: { header: ['series', 'runs', 'pool', 'time (s)', yy.title, 'min over seeds', 'max over seeds'], rows },
  };
}

const powerOf = (r: RunData): Map<string, Map<string, TimedValue[]>> => r.power;

// ---------------------------------------------------------------------------------------------- breakdown

function breakdownChart(input: ChartInput): ChartResult {
  const series = seriesOf(input).filter((s) => s.runs.some((r) => r.breakdown.requests > 0));
  if (series.length === 0) return { skip: 'no run recorded the server-side breakdown (queue / prefill / KV transfer / decode wait)' };
  // Two stacks per series, each adding up to what it explains (means over the same requests): TTFT = queue +
  // prefill (+ overhead in live runs), the wait for the second token = KV transfer + decode wait (+ overhead).
  const parts = [
    { name: 'queue', stack: 0, get: (r: RunData) => r.breakdown.queue },
    { name: 'prefill', stack: 0, get: (r: RunData) => r.breakdown.prefill },
    { name: 'TTFT overhead (client, network, HTTP)', stack: 0, get: (r: RunData) => r.breakdown.ttftOverhead },
    { name: 'KV transfer', stack: 1, get: (r: RunData) => r.breakdown.kvTransfer },
    { name: 'decode wait', stack: 1, get: (r: RunData) => r.breakdown.decodeWait },
    { name: '2nd-token overhead', stack: 1, get: (r: RunData) => r.breakdown.secondOverhead },
  ] as const;
  const live = input.runs.some((r) => r.info.kind !== 'sim' && r.breakdown.requests > 0);
  const shown = parts.filter((p) => live || !p.name.includes('overhead'));
  const labels: string[] = [];
  const cells: { s: Series; stack: number; parts: (Agg | undefined)[]; total: Agg }[] = [];
  for (const s of series)
    for (const stack of [0, 1]) {
      labels.push(`${s.label} ${stack === 0 ? 'TTFT' : '2nd-token wait'}`);
      const runs = s.runs.filter((r) => r.breakdown.requests > 0);
      const ps = shown.map((p) => (p.stack === stack ? agg(runs.map((r) => p.get(r)))! : undefined));
      const total = agg(runs.map((r) => shown.reduce((acc, p) => acc + (p.stack === stack ? p.get(r) : 0), 0)))!;
      cells.push({ s, stack, parts: ps, total });
    }
  const unit = timeUnit(Math.max(...cells.map((c) => c.total.max)));
  const lastOf = (stack: number): number => shown.map((p): number => p.stack).lastIndexOf(stack);
  const config: ChartConfiguration<'bar', number[]> = {
    type: 'bar',
    data: {
      labels,
      datasets: shown.map((p, pi) => ({
        label: p.name,
        data: cells.map((c) => (c.parts[pi] ? c.parts[pi]!.mean * unit.scale : 0)),
        stack: 'breakdown',
        backgroundColor: BREAKDOWN_FILLS[parts.indexOf(p)],
        borderColor: cells.map((c) => c.s.color),
        borderWidth: 2,
        maxBarThickness: 70,
        ...(pi === lastOf(p.stack) ? { errorBars: cells.map((c) => (c.stack === p.stack ? ERR(c.total, unit.scale) : null)) } : {}),
      })) as never,
    },
    options: {
      layout: { padding: { left: 4, right: 12, top: 2, bottom: 2 } },
      plugins: {
        title: titlePlugin(fullTitle(input, 'Breakdown (means): TTFT = queue + prefill; 2nd-token wait = KV transfer + decode wait')),
        legend: fillLegend(shown.map((p) => ({ text: p.name, fill: BREAKDOWN_FILLS[parts.indexOf(p)] }))),
        tooltip: { enabled: false },
      },
      scales: {
        x: categoryAxis(undefined, true),
        y: { ...(valueAxis(`mean time (${unit.name})`, { extra: { beginAtZero: true } }) as object), stacked: true } as never,
      },
    },
    plugins: [errorBarPlugin as Plugin<'bar'>],
  };
  const rows: (string | number)[][] = [];
  for (const c of cells) {
    shown.forEach((p, pi) => {
      const a = c.parts[pi];
      if (a)
        rows.push([
          c.s.label,
          runIds(c.s),
          c.stack === 0 ? 'ttft' : 'second_token_wait',
          p.name,
          r6(a.mean * unit.scale),
          r6(a.min * unit.scale),
          r6(a.max * unit.scale),
        ]);
    });
  }
  return {
    spec: spec(config),
    csv: { header: ['series', 'runs', 'measure', 'part', `mean (${unit.name})`, `min over seeds (${unit.name})`, `max over seeds (${unit.name})`], rows },
  };
}

// ---------------------------------------------------------------------------------------------- lag

/** Lag is what a live load generator adds; a simulated run sends at the scheduled instant (lag 0). */
function lagChart(input: ChartInput): ChartResult {
  const runs = input.runs.filter((r) => r.info.kind !== 'sim' && r.lag.length > 0);
  if (runs.length === 0) {
    return {
      skip: input.runs.some((r) => r.lag.length > 0)
        ? 'only simulated runs, which send at the scheduled instant (lag 0)'
        : 'no run has sent requests (no schedule lag recorded)',
    };
  }
  // Log-spaced bins from 1 µs (or the smallest positive lag) to the largest lag; lags below go to the first bin.
  const pos = runs.flatMap((r) => [...r.lag].filter((v) => v > 0));
  const lo = Math.max(1e-6, pos.length ? Math.min(...pos) : 1e-6);
  const hi = Math.max(lo * 10, ...runs.map((r) => r.lag[r.lag.length - 1]!));
  const bins = 40;
  const edges = Array.from({ length: bins + 1 }, (_, i) => lo * (hi / lo) ** (i / bins));
  const unit = timeUnit(hi);
  const datasets: ChartDataset<'line', Point[]>[] = [];
  const rows: (string | number)[][] = [];
  // The y axis reaches down to one request of the largest run (empty bins sit on that floor).
  const floor = 10 ** Math.floor(Math.log10(1 / (2 * Math.max(...runs.map((r) => r.lag.length)))));
  runs.forEach((r) => {
    const counts = new Array<number>(bins).fill(0);
    for (const v of r.lag) {
      const b = v <= lo ? 0 : Math.min(bins - 1, Math.floor((Math.log(v / lo) / Math.log(hi / lo)) * bins));
      counts[b]! += 1;
    }
    const fr = counts.map((c) => c / r.lag.length);
    const pts: Point[] = [];
    fr.forEach((f, i) => {
      pts.push({ x: edges[i]! * unit.scale, y: Math.max(f, floor) }, { x: edges[i + 1]! * unit.scale, y: Math.max(f, floor) });
      rows.push([r.label, r.info.id, r6(edges[i]! * unit.scale), r6(edges[i + 1]! * unit.scale), counts[i]!, r6(f)]);
    });
    datasets.push(lineDataset(r.label, pts, runColor(r.index), runDash(r.index)));
  });
  return {
    spec: lineChart(
      fullTitle(input, 'Schedule lag (send − scheduled), live runs'),
      datasets,
      valueAxis(`lag (${unit.name}, log scale; the first bin holds everything below ${fmtNumber(lo * unit.scale)} ${unit.name})`, {
        log: true,
        decades: Math.log10(hi / lo),
      }),
      valueAxis('fraction of requests (log scale)', { log: true, decades: -Math.log10(floor), extra: { min: floor, max: 1 } }),
    ),
    csv: { header: ['run', 'run id', `bin from (${unit.name})`, `bin to (${unit.name})`, 'requests', 'fraction'], rows },
  };
}

// ---------------------------------------------------------------------------------------------- SLO matrix

let measureCtx: { measureText(t: string): { width: number }; font: string } | undefined;
/** A canvas to measure text with (the bundled font at the body size). */
function ensureMeasure(): void {
  if (measureCtx) return;
  ensureFonts();
  const c = new Canvas(10, 10).getContext('2d');
  c.font = `${FONT_SIZE}px ${FONT_FAMILY}`;
  measureCtx = c as unknown as { measureText(t: string): { width: number }; font: string };
}
function measureText(t: string): number {
  ensureMeasure();
  return measureCtx!.measureText(t).width;
}

/** A verdict's measured value with its unit (from the rule's metric). */
export function sloValueText(metric: string, value: number): string {
  if (metric.startsWith('slowdown.')) return `${fmtNumber(value)}×`;
  const base = metric.split('.')[0]!;
  if (['ttft', 'tpot', 'tbt', 'e2e', 'lag', 'max_stall', 'queue', 'prefill', 'kv_transfer', 'decode_wait', 'decode'].includes(base)) {
    return Math.abs(value) < 1 ? `${fmtNumber(value * 1000)} ms` : `${fmtNumber(value)} s`;
  }
  if (base === 'goodput' || base === 'throughput') return `${fmtNumber(value)} req/s`;
  if (base.includes('fraction') || base === 'error_rate' || base === 'attainment') return `${fmtNumber(value * 100)}%`;
  return fmtNumber(value);
}

function sloMatrix(input: ChartInput): ChartResult {
  const runs = input.runs.filter((r) => r.slo.length > 0);
  if (runs.length === 0) return { skip: 'no run has SLO verdicts (run `splitbench gate` first)' };
  // Rows grouped by SLO file, each group under a header naming the file.
  const files: string[] = [];
  const rulesOf = new Map<string, string[]>();
  for (const r of runs)
    for (const v of r.slo) {
      if (!rulesOf.has(v.sloFile)) {
        files.push(v.sloFile);
        rulesOf.set(v.sloFile, []);
      }
      const list = rulesOf.get(v.sloFile)!;
      if (!list.includes(v.rule)) list.push(v.rule);
    }
  const lines: ({ kind: 'file'; file: string } | { kind: 'rule'; file: string; rule: string })[] = [];
  for (const f of files) {
    lines.push({ kind: 'file', file: f });
    for (const rule of rulesOf.get(f)!) lines.push({ kind: 'rule', file: f, rule });
  }
  // Columns are runs (verdicts belong to runs); the colour bar under a name is its series' colour.
  const colourOf = new Map<RunData, string>();
  for (const se of seriesOf(input)) for (const r of se.runs) colourOf.set(r, se.color);
  const rowH = 28;
  const labelW = 250;
  const cellW = Math.max(92, Math.min(140, (700 - labelW - 12) / runs.length));
  ensureMeasure();
  const longest = Math.max(...runs.map((r) => measureText(r.label)));
  // Run names rotated 35° when they do not fit across a cell (the last one needs room on the right).
  const rotate = longest > cellW - 8;
  const width = Math.max(700, Math.ceil(labelW + runs.length * cellW + 12 + (rotate ? Math.min(longest, 220) * Math.cos(Math.PI / 5.14) - cellW / 2 : 0)));
  const headerH = 40 + (rotate ? Math.ceil(Math.min(longest, 220) * Math.sin(Math.PI / 5.14)) + 18 : 30);
  const height = headerH + lines.length * rowH + 40;
  const baseName = (f: string): string => f.split(/[\\/]/).pop() ?? f;
  const rows: (string | number | null)[][] = [];
  for (const l of lines) {
    if (l.kind !== 'rule') continue;
    for (const r of runs) {
      const v = r.slo.find((x) => x.sloFile === l.file && x.rule === l.rule);
      rows.push([
        baseName(l.file),
        l.rule,
        r.label,
        r.info.id,
        v ? (v.passed ? 'pass' : 'FAIL') : null,
        v?.value ?? null,
        v?.limit ?? null,
        v && v.value !== null ? sloValueText(v.metric, v.value) : null,
      ]);
    }
  }
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
      ctx.fillStyle = colourOf.get(r) ?? runColor(r.index);
      ctx.fillRect(x - cellW / 2 + 4, headerH - 10, cellW - 8, 4);
      ctx.fillStyle = TEXT_COLOR;
      if (rotate) {
        ctx.save();
        ctx.translate(x, headerH - 16);
        ctx.rotate(-Math.PI / 5.14);
        ctx.textAlign = 'left';
        ctx.fillText(r.label, 0, 0, 220);
        ctx.restore();
        ctx.textAlign = 'center';
      } else ctx.fillText(r.label, x, headerH - 24, cellW - 6);
    });
    lines.forEach((l, i) => {
      const y = headerH + i * rowH;
      if (l.kind === 'file') {
        ctx.textAlign = 'left';
        ctx.fillStyle = TEXT_COLOR;
        ctx.font = `bold ${FONT_SIZE}px ${FONT_FAMILY}`;
        ctx.fillText(`SLO file ${baseName(l.file)}`, 8, y + rowH / 2, labelW - 16);
        ctx.font = `${FONT_SIZE}px ${FONT_FAMILY}`;
        return;
      }
      ctx.textAlign = 'right';
      ctx.fillStyle = TEXT_COLOR;
      ctx.fillText(l.rule, labelW - 10, y + rowH / 2, labelW - 24);
      ctx.textAlign = 'center';
      runs.forEach((r, j) => {
        const x = labelW + j * cellW;
        const v = r.slo.find((x2) => x2.sloFile === l.file && x2.rule === l.rule);
        if (!v) {
          ctx.strokeStyle = GRID_COLOR;
          ctx.lineWidth = 1;
          ctx.strokeRect(x + 2, y + 2, cellW - 4, rowH - 4);
          ctx.fillStyle = '#777777';
          ctx.fillText('–', x + cellW / 2, y + rowH / 2, cellW - 8);
          return;
        }
        ctx.fillStyle = v.passed ? PASS_FILL : FAIL_FILL;
        ctx.fillRect(x + 2, y + 2, cellW - 4, rowH - 4);
        ctx.fillStyle = v.passed ? PASS_TEXT : FAIL_TEXT;
        const text = `${v.passed ? '✓' : '✗'}${v.value !== null ? ` ${sloValueText(v.metric, v.value)}` : v.passed ? ' pass' : ' FAIL'}`;
        ctx.fillText(text, x + cellW / 2, y + rowH / 2, cellW - 8);
      });
    });
    // Key: what the two cell kinds mean.
    const ky = height - 22;
    ctx.textAlign = 'left';
    const keyEntry = (x: number, fill: string, mark: string, markColor: string, word: string): void => {
      ctx.fillStyle = fill;
      ctx.fillRect(x, ky - 9, 34, 18);
      ctx.fillStyle = markColor;
      ctx.fillText(mark, x + 11, ky);
      ctx.fillStyle = TEXT_COLOR;
      ctx.fillText(word, x + 40, ky);
    };
    keyEntry(8, PASS_FILL, '✓', PASS_TEXT, 'pass');
    keyEntry(100, FAIL_FILL, '✗', FAIL_TEXT, 'FAIL');
    ctx.fillStyle = '#555555';
    ctx.fillText('cell: the measured value (its unit: ms, s, × for slowdowns); the rule on the left holds the limit; –: not evaluated', 196, ky, width - 204);
  };
  return {
    spec: { kind: 'draw', draw, width, height },
    csv: { header: ['slo file', 'rule', 'run', 'run id', 'verdict', 'value (SI: s, ×, req/s)', 'limit (SI)', 'value'], rows },
  };
}

// ---------------------------------------------------------------------------------------------- in flight

const inFlight = (input: ChartInput): ChartResult => {
  const series = seriesOf(input).filter((s) => s.runs.some((r) => r.intervals.length > 0 && r.spanS > 0));
  if (series.length === 0) return { skip: 'no run has sent requests' };
  const datasets: ChartDataset<'line', Point[]>[] = [];
  const rows: (string | number)[][] = [];
  for (const s of series) {
    const t1 = Math.max(...s.runs.map((r) => r.spanS));
    const list = s.runs.filter((r) => r.intervals.length > 0).map((r) => inFlightSeries(r.intervals, 0, t1, 400));
    const b = bandOf(list);
    if (list.length > 1) datasets.push(...bandDatasets(b.lo, b.hi, s.color));
    datasets.push(lineDataset(s.label, b.mid, s.color, s.dash));
    b.mid.forEach((p, i) => {
      rows.push([s.label, runIds(s), r6(p.x), r6(p.y), r6(b.lo[i]!.y), r6(b.hi[i]!.y)]);
    });
  }
  return {
    spec: lineChart(
      fullTitle(input, 'Requests in flight (from send and end times)'),
      datasets,
      timeAxis(),
      valueAxis('requests in flight (time-weighted mean per slice)', { extra: { beginAtZero: true } }),
    ),
    csv: { header: ['series', 'runs', 'time (s)', 'requests in flight', 'min over seeds', 'max over seeds'], rows },
  };
};

// ---------------------------------------------------------------------------------------------- SLO attainment

/** A per-request limit: the request attains it when `metric op limit` holds (absent metric: attained). */
export interface RequestLimit {
  readonly metric: string;
  readonly op: '<' | '<=' | '>' | '>=';
  readonly limit: number;
  readonly text: string;
}

const STAT_RANK = ['p50', 'p90', 'p95', 'p99', 'p99.9', 'max'];

/**
 * The per-request limits attainment is judged by: the SLO file's `per_request` section; without one, for
 * each distribution metric the limit of its highest-percentile rule (the tail the file protects), applied
 * to every request.
 */
export function requestLimits(slo: SloSpec): RequestLimit[] {
  if (slo.perRequest.length > 0) return slo.perRequest.map((r) => ({ metric: r.metric, op: r.op, limit: r.limit, text: r.text }));
  const best = new Map<string, { rank: number; l: RequestLimit }>();
  for (const r of slo.rules) {
    if (r.limit.kind !== 'value' || r.stat === undefined) continue;
    const rank = STAT_RANK.indexOf(r.stat);
    if (rank < 0 || !['ttft', 'tpot', 'tbt', 'e2e', 'slowdown.ttft', 'slowdown.tpot', 'slowdown.tbt', 'slowdown.e2e'].includes(r.base)) continue;
    const cur = best.get(r.base);
    if (!cur || rank > cur.rank)
      best.set(r.base, {
        rank,
        l: {
          metric: r.base,
          op: r.op,
          limit: r.limit.value,
          text: `${r.base} ${r.op} ${fmtNumber(r.limit.value)}${r.base.startsWith('slowdown.') ? '×' : ' s'}`,
        },
      });
  }
  return [...best.values()].map((b) => b.l);
}

function requestValue(p: RequestPoint, metric: string): number {
  switch (metric) {
    case 'ttft':
      return p.ttft;
    case 'tpot':
      return p.tpot;
    case 'tbt':
      return p.tbt;
    case 'e2e':
      return p.e2e;
    case 'slowdown.ttft':
      return p.sTtft;
    case 'slowdown.tpot':
      return p.sTpot;
    case 'slowdown.tbt':
      return p.sTbt;
    case 'slowdown.e2e':
      return p.sE2e;
    default:
      return NaN;
  }
}

function holds(v: number, op: RequestLimit['op'], limit: number): boolean {
  return op === '<' ? v < limit : op === '<=' ? v <= limit : op === '>' ? v > limit : v >= limit;
}

/**
 * SLO attainment of a run: the fraction of its (non-warm-up) requests that completed and met every limit,
 * each limit multiplied by `scale` (upper limits loosen as scale grows). Undefined when the run has no
 * requests, or the limits need slowdowns and the run has no reference.
 */
export function attainment(r: RunData, limits: readonly RequestLimit[], scale = 1): number | undefined {
  if (r.requests.length === 0) return undefined;
  if (limits.some((l) => l.metric.startsWith('slowdown.')) && r.reference === undefined) return undefined;
  let met = 0;
  for (const p of r.requests) {
    if (!p.ok) continue;
    let ok = true;
    for (const l of limits) {
      const v = requestValue(p, l.metric);
      if (Number.isFinite(v) && !holds(v, l.op, l.limit * scale)) {
        ok = false;
        break;
      }
    }
    if (ok) met++;
  }
  return met / r.requests.length;
}

function limitsText(limits: readonly RequestLimit[]): string {
  const t = limits.map((l) => l.text).join(', ');
  return t.length > 95 ? `${t.slice(0, 92)}…` : t;
}

function attainmentSetup(input: ChartInput): { limits: RequestLimit[] } | { skip: string } {
  if (!input.slo) return { skip: 'needs --slo FILE (the limits each request is judged by)' };
  const limits = requestLimits(input.slo);
  if (limits.length === 0) return { skip: `SLO file ${input.slo.file} has no per-request or percentile limits on latencies or slowdowns` };
  return { limits };
}

function attainmentVsRate(input: ChartInput): ChartResult {
  const set = attainmentSetup(input);
  if ('skip' in set) return set;
  const sweeps = findSweeps(input);
  if (sweeps.length === 0) return { skip: 'no sweep among the runs (needs two or more runs of one deployment at different offered rates)' };
  const datasets: ChartDataset<'line', Point[]>[] = [];
  const rows: (string | number | null)[][] = [];
  for (const s of sweeps) {
    const pts: Point[] = [];
    const bars: ({ lo: number; hi: number } | null)[] = [];
    for (const p of s.points) {
      const a = agg(p.runs.map((r) => attainment(r, set.limits)));
      if (!a) continue;
      pts.push({ x: p.rate, y: a.mean * 100 });
      bars.push(ERR(a, 100));
      rows.push([s.label, p.rate, p.runs.map((r) => r.info.id).join(' '), a.n, r6(a.mean * 100), r6(a.min * 100), r6(a.max * 100)]);
    }
    if (pts.length > 0)
      datasets.push(lineDataset(s.label, pts, s.color, s.dash, { pointRadius: 3.5, pointStyle: 'circle', errorBars: bars, errorColor: s.color } as never));
  }
  if (datasets.length === 0) return { skip: 'no sweep run can be judged (slowdown limits need runs that record their model)' };
  return {
    spec: lineChart(
      fullTitle(input, 'SLO attainment vs offered load'),
      datasets,
      {
        ...valueAxis('offered load (req/s)'),
        title: axisTitle(['offered load (req/s)', `a request attains the SLO when ${limitsText(set.limits)}`] as never),
      } as LinearOpts,
      valueAxis('requests attaining the SLO (%)', { extra: { min: 0, max: 100 } }),
    ),
    csv: { header: ['deployment', 'offered load (req/s)', 'runs', 'seeds', 'attainment mean (%)', 'min (%)', 'max (%)'], rows },
  };
}

/** SLO scales of the attainment-vs-scale chart: limits × k. */
export const SLO_SCALES = [0.25, 0.35, 0.5, 0.7, 1, 1.4, 2, 2.8, 4, 5.6, 8];

function attainmentVsScale(input: ChartInput): ChartResult {
  const set = attainmentSetup(input);
  if ('skip' in set) return set;
  const series = seriesOf(input);
  const datasets: ChartDataset<'line', Point[]>[] = [];
  const rows: (string | number | null)[][] = [];
  for (const s of series) {
    const pts: Point[] = [];
    const bars: ({ lo: number; hi: number } | null)[] = [];
    for (const k of SLO_SCALES) {
      const a = agg(s.runs.map((r) => attainment(r, set.limits, k)));
      if (!a) continue;
      pts.push({ x: k, y: a.mean * 100 });
      bars.push(ERR(a, 100));
      rows.push([s.label, runIds(s), k, a.n, r6(a.mean * 100), r6(a.min * 100), r6(a.max * 100)]);
    }
    if (pts.length > 0) datasets.push(lineDataset(s.label, pts, s.color, s.dash, { pointRadius: 3, errorBars: bars, errorColor: s.color } as never));
  }
  if (datasets.length === 0) return { skip: 'no run can be judged (slowdown limits need runs that record their model)' };
  return {
    spec: lineChart(
      fullTitle(input, 'SLO attainment vs SLO scale (every limit × k)'),
      datasets,
      {
        ...valueAxis('SLO scale k', { log: true, decades: 1.5, extra: { min: Math.min(...SLO_SCALES), max: Math.max(...SLO_SCALES) } }),
        title: axisTitle(['SLO scale k (× every limit, log scale)', `limits at k = 1: ${limitsText(set.limits)}`] as never),
      } as LinearOpts,
      valueAxis('requests meeting every limit × k (%)', { extra: { min: 0, max: 100 } }),
    ),
    csv: { header: ['series', 'runs', 'slo scale', 'seeds', 'attainment mean (%)', 'min (%)', 'max (%)'], rows },
  };
}

// ---------------------------------------------------------------------------------------------- slowdowns

const SLOWDOWN_PARTS = [
  ['TTFT', 'sTtft'],
  ['TBT', 'sTbt'],
  ['E2E', 'sE2e'],
] as const;
const SLOWDOWN_STATS = [
  ['p50', 0.5],
  ['p90', 0.9],
  ['p99', 0.99],
] as const;

function slowdownQuantile(r: RunData, key: 'sTtft' | 'sTbt' | 'sE2e', q: number): number | undefined {
  return quantile(sortedFinite(r.requests.filter((p) => p.ok).map((p) => p[key])), q);
}

function slowdownChart(input: ChartInput): ChartResult {
  const series = seriesOf(input).filter((s) => s.runs.some((r) => r.reference !== undefined));
  if (series.length === 0) return { skip: 'no run records its model, so none has a reference machine to compute slowdowns against' };
  const cats = SLOWDOWN_PARTS.flatMap(([name]) => SLOWDOWN_STATS.map(([st]) => `${name} ${st}`));
  const rows: (string | number | null)[][] = [];
  const datasets = series.map((s) => {
    const aggs = SLOWDOWN_PARTS.flatMap(([, key]) => SLOWDOWN_STATS.map(([, q]) => agg(s.runs.map((r) => slowdownQuantile(r, key, q)))));
    aggs.forEach((a, i) => {
      rows.push([s.label, runIds(s), cats[i]!, a?.n ?? 0, a ? r6(a.mean) : null, a ? r6(a.min) : null, a ? r6(a.max) : null]);
    });
    return {
      label: s.label,
      data: aggs.map((a) => a?.mean ?? null),
      backgroundColor: s.color,
      borderColor: s.color,
      borderWidth: 1,
      maxBarThickness: 28,
      errorBars: aggs.map((a) => ERR(a)),
      noValueLabels: true,
    };
  });
  const refs = [...new Set(series.flatMap((s) => s.runs.map((r) => r.reference).filter((x): x is string => x !== undefined)))];
  const config: ChartConfiguration<'bar', (number | null)[]> = {
    type: 'bar',
    data: { labels: cats, datasets: datasets as never },
    options: {
      layout: { padding: { left: 4, right: 12, top: 2, bottom: 2 } },
      plugins: {
        title: titlePlugin(fullTitle(input, 'Slowdown p50 / p90 / p99 (latency ÷ the request alone)')),
        legend: { ...legendBase },
        tooltip: { enabled: false },
      },
      scales: {
        x: categoryAxis(`reference: ${refs.join('; ')}`.slice(0, 90)),
        y: valueAxis('slowdown (× the request alone on the reference)', { extra: { beginAtZero: true, grace: '8%' } }) as never,
      },
    },
    plugins: [errorBarPlugin as Plugin<'bar'>],
  };
  return { spec: spec(config), csv: { header: ['series', 'runs', 'slowdown', 'seeds', 'mean (×)', 'min (×)', 'max (×)'], rows } };
}

// ---------------------------------------------------------------------------------------------- KV transfer

function kvTransferChart(input: ChartInput): ChartResult {
  const series = seriesOf(input)
    .map((s) => ({ s, pts: s.runs.flatMap((r) => r.requests.filter((p) => p.ok && p.kvTransfer > 0 && Number.isFinite(p.kvTransfer))) }))
    .filter((x) => x.pts.length > 0);
  if (series.length === 0) return { skip: 'no run shipped KV cache between machines (phase-split runs record kv_transfer_s)' };
  const maxPrompt = Math.max(...series.flatMap((x) => x.pts.map((p) => p.promptTokens)));
  const minPrompt = Math.min(...series.flatMap((x) => x.pts.map((p) => p.promptTokens)));
  const lo = 2 ** Math.floor(Math.log2(Math.max(1, minPrompt)));
  const edges: number[] = [];
  // Half-octave bins of prompt length.
  for (let e = lo; e <= maxPrompt * Math.SQRT2; e *= Math.SQRT2) edges.push(Math.round(e));
  if (edges.length < 2) edges.push(edges[0]! * 2);
  const maxKv = Math.max(...series.flatMap((x) => x.pts.map((p) => p.kvTransfer)));
  const unit = timeUnit(maxKv);
  const datasets: ChartDataset<'line', Point[]>[] = [];
  const rows: (string | number)[][] = [];
  for (const { s, pts } of series) {
    const med: Point[] = [];
    const p99: Point[] = [];
    for (let i = 0; i + 1 < edges.length; i++) {
      const inBin = sortedFinite(
        pts
          .filter((p) => p.promptTokens >= edges[i]! && (p.promptTokens < edges[i + 1]! || (i + 2 === edges.length && p.promptTokens <= edges[i + 1]!)))
          .map((p) => p.kvTransfer),
      );
      if (inBin.length === 0) continue;
      const x = Math.sqrt(edges[i]! * edges[i + 1]!);
      const q50 = quantile(inBin, 0.5)!;
      const q99 = quantile(inBin, 0.99)!;
      med.push({ x, y: q50 * unit.scale });
      p99.push({ x, y: q99 * unit.scale });
      rows.push([s.label, runIds(s), edges[i]!, edges[i + 1]!, inBin.length, r6(q50 * unit.scale), r6(q99 * unit.scale)]);
    }
    datasets.push(lineDataset(`${s.label} p50`, med, s.color, [], { pointRadius: 3 }), lineDataset(`${s.label} p99`, p99, s.color, [6, 4], { pointRadius: 2 }));
  }
  const keys: KeyEntry[] = [
    ...series.map(({ s }) => ({ text: s.label, color: s.color, dash: [] })),
    { text: 'p50', color: '#555555', dash: [] },
    { text: 'p99', color: '#555555', dash: [6, 4] },
  ];
  return {
    spec: lineChart(
      fullTitle(input, 'KV-cache transfer time vs prompt length'),
      datasets,
      valueAxis('prompt length (tokens, log scale; half-octave bins)', { log: true, decades: Math.log10(edges[edges.length - 1]! / edges[0]!) }),
      valueAxis(`KV transfer time (${unit.name})`, { extra: { beginAtZero: true, grace: '8%' } }),
      keys,
    ),
    csv: {
      header: [
        'series',
        'runs',
        'prompt tokens from',
        'prompt tokens to (excl.)',
        'requests',
        `KV transfer p50 (${unit.name})`,
        `KV transfer p99 (${unit.name})`,
      ],
      rows,
    },
  };
}

// ---------------------------------------------------------------------------------------------- batches

/** Sampled values of one timeline name per pool (busy samples: value > 0), pooled over a series' runs. */
function sampledByPool(s: Series, name: string): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const r of s.runs) {
    for (const [pool, bySeries] of byPool(r, name)) {
      const arr = out.get(pool) ?? [];
      out.set(pool, arr);
      for (const samples of bySeries.values()) for (const v of samples) if (v.value !== null && v.value > 0) arr.push(v.value);
    }
  }
  return out;
}

function batchChart(input: ChartInput, name: string, what: string, unitLabel: string): ChartResult {
  const per = seriesOf(input).flatMap((s) => [...sampledByPool(s, name)].filter(([, v]) => v.length > 0).map(([pool, v]) => ({ s, pool, v: sortedFinite(v) })));
  if (per.length === 0)
    return { skip: `no run recorded ${name} samples (simulated runs with --sample-interval > 0, or live runs scraping the reference backend)` };
  const pools = [...new Set(per.map((p) => p.pool))].sort();
  const max = Math.max(...per.map((p) => p.v[p.v.length - 1]!));
  const datasets: ChartDataset<'line', Point[]>[] = [];
  const rows: (string | number)[][] = [];
  for (const { s, pool, v } of per) {
    // Integer-valued step CDF: fraction of samples ≤ each distinct value.
    const pts: Point[] = [{ x: v[0]!, y: 0 }];
    let i = 0;
    while (i < v.length) {
      let j = i;
      while (j < v.length && v[j] === v[i]) j++;
      pts.push({ x: v[i]!, y: j / v.length });
      rows.push([s.label, runIds(s), pool, v[i]!, j - i, r6(j / v.length)]);
      i = j;
    }
    datasets.push(lineDataset(`${s.label} · ${pool}`, pts, s.color, poolDash(pool, pools), { stepped: 'after' } as never));
  }
  const keys: KeyEntry[] = [
    ...new Map(per.map((p) => [p.s.index, { text: p.s.label, color: p.s.color, dash: [] as number[] }])).values(),
    ...pools.map((p) => ({ text: `pool ${p}`, color: '#555555', dash: poolDash(p, pools) })),
  ];
  return {
    spec: lineChart(
      fullTitle(input, `${capitalize(what)} per pool (busy machines, sampled)`),
      datasets,
      valueAxis(`${what} (${unitLabel})`, { integer: true, extra: { min: 0, max: Math.max(1, max) } }),
      valueAxis('fraction of samples', { extra: { min: 0, max: 1 } }),
      keys,
    ),
    csv: { header: ['series', 'runs', 'pool', `${what} (${unitLabel})`, 'samples', 'fraction of samples ≤'], rows },
  };
}

// ---------------------------------------------------------------------------------------------- rolling latency

/** Rolling p50 / p99 TTFT by send time, with the trace's arrival rate on a second axis. */
function rollingLatency(input: ChartInput): ChartResult {
  const series = seriesOf(input).filter((s) => s.runs.some((r) => r.requests.length > 0));
  if (series.length === 0) return { skip: 'no run has requests' };
  const span = Math.max(...series.flatMap((s) => s.runs.map((r) => r.spanS)));
  if (!(span > 0)) return { skip: 'the runs have no time span' };
  const windows = 40;
  const w = span / windows;
  const allTtft = series.flatMap((s) => s.runs.flatMap((r) => r.requests.filter((p) => p.ok && Number.isFinite(p.ttft)).map((p) => p.ttft)));
  const unit = timeUnit(allTtft.length ? Math.max(...allTtft) : 1);
  const datasets: ChartDataset<'line', Point[]>[] = [];
  const rows: (string | number | null)[][] = [];
  for (const s of series) {
    const p50: Point[] = [];
    const p99: Point[] = [];
    const rate: Point[] = [];
    const reqs = s.runs.flatMap((r) => r.requests);
    // Windows up to the series' last arrival (the drain after it has no arrivals to align with).
    const last = Math.max(...reqs.map((p) => (Number.isFinite(p.scheduled) ? p.scheduled : 0)));
    for (let k = 0; k < windows && k * w <= last; k++) {
      const a = k * w;
      const b = (k + 1) * w;
      const inWin = (t: number): boolean => t >= a && (t < b || ((k === windows - 1 || b > last) && t <= b));
      const arrivals = reqs.filter((p) => inWin(p.scheduled)).length / s.runs.length / w;
      const ttft = sortedFinite(reqs.filter((p) => p.ok && inWin(p.send)).map((p) => p.ttft));
      const x = (a + b) / 2;
      rate.push({ x, y: arrivals });
      const q50 = quantile(ttft, 0.5);
      const q99 = quantile(ttft, 0.99);
      if (q50 !== undefined) p50.push({ x, y: q50 * unit.scale });
      if (q99 !== undefined) p99.push({ x, y: q99 * unit.scale });
      rows.push([
        s.label,
        runIds(s),
        r6(a),
        r6(b),
        r6(arrivals),
        ttft.length,
        q50 === undefined ? null : r6(q50 * unit.scale),
        q99 === undefined ? null : r6(q99 * unit.scale),
      ]);
    }
    datasets.push(
      lineDataset(`${s.label} p99`, p99, s.color, []),
      lineDataset(`${s.label} p50`, p50, s.color, [6, 4]),
      lineDataset(`${s.label} arrivals`, rate, withAlpha(s.color, 0.7), [1, 3], { yAxisID: 'y2', borderWidth: 1.5 } as never),
    );
  }
  const keys: KeyEntry[] = [
    ...series.map((s) => ({ text: s.label, color: s.color, dash: [] })),
    { text: 'TTFT p99', color: '#555555', dash: [] },
    { text: 'TTFT p50', color: '#555555', dash: [6, 4] },
    { text: 'arrivals (right axis)', color: '#555555', dash: [1, 3] },
  ];
  const y2 = { ...(valueAxis('arrival rate (req/s)', { extra: { beginAtZero: true } }) as object), position: 'right', grid: { display: false } } as LinearOpts;
  return {
    spec: lineChart(
      fullTitle(input, `Rolling TTFT p50 / p99 and arrival rate (${fmtNumber(w)} s windows)`),
      datasets,
      timeAxis(),
      valueAxis(`TTFT (${unit.name}), requests sent in the window`, { extra: { beginAtZero: true } }),
      keys,
      { y2 },
    ),
    csv: {
      header: [
        'series',
        'runs',
        'window from (s)',
        'window to (s)',
        'arrivals (req/s, mean over seeds)',
        'requests sent',
        `TTFT p50 (${unit.name})`,
        `TTFT p99 (${unit.name})`,
      ],
      rows,
    },
  };
}

// ---------------------------------------------------------------------------------------------- Pareto

/** Achieved throughput against p99 E2E latency, one line per sweep (else a point per run), the Pareto frontier in black. */
function paretoChart(input: ChartInput): ChartResult {
  const series = seriesOf(input);
  const pts = series
    .map((s) => ({ s, x: agg(s.summaries.map((m) => m.throughputRps)), y: agg(s.summaries.map((m) => m.e2eP99S)) }))
    .filter((p): p is { s: Series; x: Agg; y: Agg } => p.x !== undefined && p.y !== undefined);
  if (pts.length < 2) return { skip: 'needs two or more runs with throughput and E2E latency' };
  const unit = timeUnit(Math.max(...pts.map((p) => p.y.max)));
  // One line per configuration less the offered rate (a sweep; its points ordered by offered rate).
  const byDep = new Map<string, typeof pts>();
  const depOf = new Map<string, string>();
  for (const p of pts) {
    const k = p.s.runs[0]!.sweepKey;
    depOf.set(k, p.s.runs[0]!.info.deployment ?? p.s.label);
    const arr = byDep.get(k) ?? [];
    byDep.set(k, arr);
    arr.push(p);
  }
  const usedLabels: string[] = [];
  const datasets: ChartDataset<'line', Point[]>[] = [];
  const rows: (string | number | null)[][] = [];
  const keys: KeyEntry[] = [];
  // Frontier: points no other point beats on both (more throughput and less latency).
  const frontier = pts.filter((p) => !pts.some((q) => q !== p && q.x.mean >= p.x.mean && q.y.mean <= p.y.mean && (q.x.mean > p.x.mean || q.y.mean < p.y.mean)));
  for (const [key, list] of byDep) {
    const dep = depOf.get(key)!;
    list.sort((a, b) => (a.s.runs[0]!.info.offeredRate ?? a.x.mean) - (b.s.runs[0]!.info.offeredRate ?? b.x.mean));
    // The deployment's colour: its first series' (by report order), as in every other chart.
    const first = [...list].sort((a, b) => a.s.index - b.s.index)[0]!.s;
    const color = first.color;
    const base = list.length === 1 ? list[0]!.s.label : (input.labels?.get(dep) ?? dep);
    const label = usedLabels.includes(base) ? `${base} (${usedLabels.filter((l) => l === base).length + 1})` : base;
    usedLabels.push(base);
    datasets.push(
      lineDataset(
        label,
        list.map((p) => ({ x: p.x.mean, y: p.y.mean * unit.scale })),
        color,
        first.dash,
        { pointRadius: 4, pointStyle: 'circle', errorBars: list.map((p) => ERR(p.y, unit.scale)), errorColor: color } as never,
      ),
    );
    keys.push({ text: label, color, dash: first.dash });
    for (const p of list)
      rows.push([
        label,
        p.s.label,
        runIds(p.s),
        p.s.runs[0]!.info.offeredRate,
        p.x.n,
        r6(p.x.mean),
        r6(p.y.mean * unit.scale),
        r6(p.y.min * unit.scale),
        r6(p.y.max * unit.scale),
        frontier.includes(p) ? 'yes' : 'no',
      ]);
  }
  const f = [...frontier].sort((a, b) => a.x.mean - b.x.mean).map((p) => ({ x: p.x.mean, y: p.y.mean * unit.scale }));
  datasets.push(lineDataset('Pareto frontier', f, LIMIT_COLOR, [4, 3], { borderWidth: 1.2 }));
  keys.push({ text: 'Pareto frontier', color: LIMIT_COLOR, dash: [4, 3] });
  return {
    spec: lineChart(
      fullTitle(input, 'Throughput vs p99 E2E latency across designs'),
      datasets,
      valueAxis('achieved throughput (req/s)', { extra: { beginAtZero: true } }),
      valueAxis(`E2E p99 (${unit.name})`, { extra: { beginAtZero: true, grace: '8%' } }),
      keys,
    ),
    csv: {
      header: [
        'design',
        'series',
        'runs',
        'offered load (req/s)',
        'seeds',
        'throughput (req/s)',
        `E2E p99 mean (${unit.name})`,
        `min (${unit.name})`,
        `max (${unit.name})`,
        'on the frontier',
      ],
      rows,
    },
  };
}

// ---------------------------------------------------------------------------------------------- provisioning heatmap

interface Cell {
  readonly prompt: number;
  readonly token: number;
  best: number | undefined;
  tried: number;
}

/**
 * `provision` runs (options.counts {prompt, token}, judged against an SLO file): per (prompt, token)
 * machine count, the highest offered rate whose every verdict passed.
 */
function provisionHeatmap(input: ChartInput): ChartResult {
  const byDesign = new Map<string, Map<string, Cell>>();
  for (const r of input.runs) {
    const c = r.info.options['counts'] as { prompt?: unknown; token?: unknown } | undefined;
    if (!c || typeof c.prompt !== 'number' || typeof c.token !== 'number' || r.info.offeredRate === null || r.slo.length === 0) continue;
    const design = String(r.info.options['design'] ?? r.info.deployment ?? '?');
    const cells = byDesign.get(design) ?? new Map<string, Cell>();
    byDesign.set(design, cells);
    const key = `${c.prompt}x${c.token}`;
    const cell = cells.get(key) ?? { prompt: c.prompt, token: c.token, best: undefined, tried: 0 };
    cells.set(key, cell);
    cell.tried++;
    if (r.slo.every((v) => v.passed) && (cell.best === undefined || r.info.offeredRate > cell.best)) cell.best = r.info.offeredRate;
  }
  if (byDesign.size === 0)
    return { skip: 'no provisioning runs among the runs (phase-split runs with prompt/token counts and SLO verdicts, as `splitbench provision` writes)' };
  const [design, cells] = [...byDesign].sort((a, b) => b[1].size - a[1].size)[0]!;
  const ps = [...new Set([...cells.values()].map((c) => c.prompt))].sort((a, b) => a - b);
  const ts = [...new Set([...cells.values()].map((c) => c.token))].sort((a, b) => a - b);
  const bestAll = Math.max(0, ...[...cells.values()].map((c) => c.best ?? 0));
  const width = 700;
  const headerH = 56;
  const left = 90;
  const cellW = Math.min(70, (width - left - 30) / ts.length);
  const cellH = Math.max(30, Math.min(34, 320 / ps.length));
  const height = Math.max(headerH + ps.length * cellH + 56, 120 + 56);
  // Sequential single-hue ramp (light → dark blue), readable without colour by the printed value.
  const ramp = (f: number): string => {
    const a = [239, 243, 255];
    const b = [8, 69, 148];
    const c = a.map((v, i) => Math.round(v + (b[i]! - v) * f));
    return `rgb(${c[0]},${c[1]},${c[2]})`;
  };
  const rows: (string | number | null)[][] = [...cells.values()]
    .sort((a, b) => a.prompt - b.prompt || a.token - b.token)
    .map((c) => [design, c.prompt, c.token, c.tried, c.best ?? null]);
  const draw = (ctx: DrawContext): void => {
    ctx.fillStyle = TEXT_COLOR;
    ctx.font = `bold ${TITLE_SIZE}px ${FONT_FAMILY}`;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    ctx.fillText(fullTitle(input, `Provisioning ${design}: max rate meeting the SLOs (req/s)`), width / 2, 8);
    ctx.font = `${FONT_SIZE}px ${FONT_FAMILY}`;
    ctx.textBaseline = 'middle';
    ctx.fillText('token machines', left + (ts.length * cellW) / 2, 38);
    ts.forEach((t, j) => {
      ctx.fillText(String(t), left + j * cellW + cellW / 2, headerH - 6);
    });
    ctx.textAlign = 'right';
    ps.forEach((p, i) => {
      ctx.fillText(String(p), left - 8, headerH + i * cellH + cellH / 2);
    });
    ctx.save();
    ctx.textAlign = 'center';
    ctx.translate(left - 52, headerH + (ps.length * cellH) / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.fillText('prompt machines', 0, 0);
    ctx.restore();
    ps.forEach((p, i) => {
      ts.forEach((t, j) => {
        const c = cells.get(`${p}x${t}`);
        const x = left + j * cellW;
        const y = headerH + i * cellH;
        if (!c) {
          ctx.strokeStyle = GRID_COLOR;
          ctx.lineWidth = 1;
          ctx.strokeRect(x + 1, y + 1, cellW - 2, cellH - 2);
          return;
        }
        const f = c.best === undefined || bestAll === 0 ? 0 : c.best / bestAll;
        ctx.fillStyle = c.best === undefined ? FAIL_FILL : ramp(f);
        ctx.fillRect(x + 1, y + 1, cellW - 2, cellH - 2);
        ctx.fillStyle = c.best === undefined ? FAIL_TEXT : f > 0.55 ? '#ffffff' : TEXT_COLOR;
        ctx.textAlign = 'center';
        ctx.fillText(c.best === undefined ? '✗' : fmtNumber(c.best), x + cellW / 2, y + cellH / 2, cellW - 4);
      });
    });
    ctx.textAlign = 'left';
    ctx.fillStyle = '#555555';
    ctx.fillText(
      'cell: highest offered rate (req/s) with every SLO verdict passing; ✗ none passed; empty: not tried',
      8,
      headerH + ps.length * cellH + 30,
      width - 16,
    );
  };
  return {
    spec: { kind: 'draw', draw, width, height },
    csv: { header: ['design', 'prompt machines', 'token machines', 'runs tried', 'max passing rate (req/s)'], rows },
  };
}

/** Two bars per run: token and request hit rate of the prefix cache. */
function prefixCacheChart(input: ChartInput): ChartResult {
  const series = seriesOf(input);
  const tok = series.map((s) => agg(s.summaries.map((x) => x.prefixTokenHitPct)));
  const req = series.map((s) => agg(s.summaries.map((x) => x.prefixRequestHitPct)));
  if (tok.every((a) => a === undefined)) return { skip: 'no run records prefix-cache hits (deployments with prefixCache: true)' };
  const bars = [
    { label: 'prompt tokens from cache', aggs: tok, fill: '#4c78a8' },
    { label: 'requests with a hit', aggs: req, fill: '#f58518' },
  ];
  const config: ChartConfiguration<'bar', (number | null)[]> = {
    type: 'bar',
    data: {
      labels: series.map((s) => s.label),
      datasets: bars.map(
        (b) =>
          ({
            label: b.label,
            data: b.aggs.map((a) => (a === undefined ? null : a.mean)),
            backgroundColor: b.fill,
            borderColor: series.map((s) => s.color),
            borderWidth: 2,
            maxBarThickness: 60,
            errorBars: b.aggs.map((a) => ERR(a)),
          }) as never,
      ),
    },
    options: {
      layout: { padding: { left: 4, right: 12, top: 16, bottom: 2 } },
      plugins: {
        title: titlePlugin(fullTitle(input, 'Prefix-cache hit rates')),
        legend: fillLegend(bars.map((b) => ({ text: b.label, fill: b.fill }))),
        tooltip: { enabled: false },
      },
      scales: {
        x: categoryAxis('run (outline colour)'),
        y: valueAxis('hit rate (%)', { extra: { beginAtZero: true, grace: '12%' } }) as never,
      },
    },
    plugins: [barValueLabels, errorBarPlugin as Plugin<'bar'>],
  };
  return {
    spec: spec(config),
    csv: {
      header: ['series', 'runs', 'seeds', 'token hit rate mean (%)', 'request hit rate mean (%)'],
      rows: series.map((s, i) => [s.label, runIds(s), tok[i]?.n ?? 0, tok[i] ? r6(tok[i]!.mean) : null, req[i] ? r6(req[i]!.mean) : null]),
    },
  };
}

// ---------------------------------------------------------------------------------------------- registry

const BUILDERS: Record<ChartName, (input: ChartInput) => ChartResult> = {
  'cdf-ttft': (i) => cdfChart(i, 'TTFT', 'requests', (r) => arrayDist(r.ttft)),
  'cdf-tpot': (i) => cdfChart(i, 'TPOT', 'requests', (r) => arrayDist(r.tpot)),
  'cdf-tbt': (i) =>
    cdfChart(i, 'time between tokens', 'tokens', (r) => {
      const d = r.tbt;
      return {
        min: d.percentile(0),
        max: d.max(),
        quantile: (q) => d.percentile(100 * Math.min(1, Math.max(0, q))),
        points: (scale) => d.cdfPoints(600, scale),
      };
    }),
  'cdf-e2e': (i) => cdfChart(i, 'E2E latency', 'requests', (r) => arrayDist(r.e2e)),
  'load-ttft': (i) => loadChart(i, 'ttft', 'TTFT'),
  'load-tpot': (i) => loadChart(i, 'tpot', 'TPOT'),
  'load-e2e': (i) => loadChart(i, 'e2e', 'E2E latency'),
  'slo-attainment': attainmentVsRate,
  'slo-scale': attainmentVsScale,
  slowdown: slowdownChart,
  pareto: paretoChart,
  throughput: (i) => barChart(i, 'throughput', 'req/s', (s) => s.throughputRps),
  'output-throughput': (i) => barChart(i, 'output token throughput', 'tok/s', (s) => s.outputTokPerS),
  goodput: (i) => barChart(i, 'goodput', 'req/s', (s) => s.goodputRps),
  cost: (i) => poolBarChart(i, 'cost per 1M output tokens', '$/1M tokens', (s) => s.costPer1MOutputUsd, 'costPer1MOutputUsd'),
  energy: (i) => poolBarChart(i, 'energy per output token', 'J/token', (s) => s.energyPerOutputTokenJ, 'energyPerOutputTokenJ'),
  'timeline-inflight': inFlight,
  'timeline-latency': rollingLatency,
  'timeline-queue': (i) =>
    poolTimeline(
      i,
      'queue depth',
      (r) => byPool(r, 'queue_depth'),
      () => ({ title: 'queued requests (count)', scale: 1, integer: true }),
    ),
  'timeline-kv': (i) =>
    poolTimeline(
      i,
      'KV-cache usage',
      (r) => byPool(r, 'kv_used_frac'),
      () => ({ title: 'KV cache in use (% of capacity)', scale: 100, max: 100 }),
      'mean',
    ),
  'timeline-power': (i) =>
    poolTimeline(i, 'power per pool', powerOf, (max) => (max >= 10_000 ? { title: 'power (kW)', scale: 1e-3 } : { title: 'power (W)', scale: 1 })),
  'batch-size': (i) => batchChart(i, 'batch_size', 'batch size', 'requests per iteration'),
  'batch-tokens': (i) => batchChart(i, 'batch_prompt_tokens', 'prompt tokens per batch', 'tokens'),
  'kv-transfer': kvTransferChart,
  'ttft-breakdown': breakdownChart,
  'lag-histogram': lagChart,
  'slo-matrix': sloMatrix,
  'provision-heatmap': provisionHeatmap,
  'prefix-cache': prefixCacheChart,
};

export const CHARTS: readonly ChartDef[] = CHART_INFO.map((c) => ({ ...c, build: BUILDERS[c.name] }));

/** CSV text (RFC 4180 quoting) of a chart's table. */
export function csvText(t: Csv): string {
  const cell = (v: string | number | null): string => {
    if (v === null) return '';
    const s = String(v);
    return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return `${[t.header, ...t.rows].map((r) => r.map(cell).join(',')).join('\n')}\n`;
}
