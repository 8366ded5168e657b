/**
 * The Splitwise experiment's figures (the paper's Figure 18 form): per mode and provisioning, the max
 * throughput of each design under the SLOs, as bars in the report palette (one colour per design, the same
 * in every figure), the ratio to Baseline-A100 and the SLO rule that binds first written above each bar,
 * min–max bars when several seeds ran. Written as PNG, SVG and PDF with the numbers as CSV.
 */
import type { ChartConfiguration, Plugin } from 'chart.js';
import { csvText, drawWhisker, type Csv } from './charts.js';
import { renderChart, type ChartSpec, type Format } from './render.js';
import { FONT_FAMILY, FONT_SIZE, GRID_COLOR, runColor, TEXT_COLOR, TITLE_SIZE } from './style.js';
import { fmtNumber } from './summary.js';

export interface DesignBar {
  readonly design: string;
  readonly config: string;
  /** Mean over seeds of the max rate meeting the SLOs (req/s); null: no rate passed. */
  readonly maxRate: number | null;
  readonly min?: number | null;
  readonly max?: number | null;
  readonly seeds?: number;
  /** Normalized to Baseline-A100 of the same mode and provisioning. */
  readonly throughputX: number | null;
  /** The rule that failed first above the max rate (most violated at the first failing rate). */
  readonly binding?: string | null;
}

/** `slowdown.tbt.p50 < 1.25` → `TBT p50 < 1.25×` (short enough to sit above a bar). */
export function shortRule(rule: string): string {
  const m = /^(slowdown\.)?([a-z_]+)\.(p[\d.]+|max|mean)\s*([<>]=?)\s*(.+)$/.exec(rule.trim());
  if (!m) return rule;
  return `${m[2]!.toUpperCase()} ${m[3]} ${m[4]} ${m[5]}${m[1] ? '×' : ''}`;
}

/** Relative luminance of '#rrggbb' (0 dark … 1 light). */
function lightness(hex: string): number {
  const n = parseInt(hex.slice(1), 16);
  return (0.2126 * ((n >> 16) & 255) + 0.7152 * ((n >> 8) & 255) + 0.0722 * (n & 255)) / 255;
}

const annotations: Plugin<'bar'> = {
  id: 'splitbenchDesignNotes',
  afterDatasetsDraw(chart) {
    const ctx = chart.ctx;
    const ds = chart.data.datasets[0] as unknown as { notes: [string, string, string][]; colors: string[]; errorBars: ({ lo: number; hi: number } | null)[] };
    const meta = chart.getDatasetMeta(0);
    const y = chart.scales['y']!;
    ctx.save();
    ctx.textAlign = 'center';
    ctx.textBaseline = 'bottom';
    meta.data.forEach((el, i) => {
      const { x, y: top } = el.getProps(['x', 'y'], true) as { x: number; y: number };
      const b = ds.errorBars[i];
      if (b) {
        ctx.strokeStyle = '#222222';
        ctx.lineWidth = 1.5;
        drawWhisker(ctx, x, y.getPixelForValue(b.lo), y.getPixelForValue(b.hi));
      }
      const above = Math.min(top, b ? y.getPixelForValue(b.hi) : top) - 3;
      const slot = (chart.chartArea.right - chart.chartArea.left) / Math.max(1, meta.data.length) - 6;
      const [rate, ratio, binding] = ds.notes[i]!;
      ctx.fillStyle = TEXT_COLOR;
      ctx.font = `bold ${FONT_SIZE - 1}px ${FONT_FAMILY}`;
      ctx.fillText(rate!, x, binding ? above - 15 : above, slot);
      if (binding) {
        ctx.font = `${FONT_SIZE - 2}px ${FONT_FAMILY}`;
        ctx.fillStyle = '#444444';
        ctx.fillText(binding, x, above, slot);
      }
      if (ratio && y.getPixelForValue(0) - top > 24) {
        // The ratio to Baseline-A100 at the bar's foot, black or white by the fill's lightness.
        ctx.font = `bold ${FONT_SIZE - 1}px ${FONT_FAMILY}`;
        ctx.fillStyle = lightness(ds.colors[i]!) > 0.55 ? '#000000' : '#ffffff';
        ctx.fillText(ratio, x, y.getPixelForValue(0) - 5, slot);
      }
    });
    ctx.restore();
  },
};

/** One Figure-18 panel: the designs of one mode and provisioning. */
export function designFigure(title: string, bars: readonly DesignBar[], colorOf: (design: string) => string): { spec: ChartSpec; csv: Csv } {
  const config: ChartConfiguration<'bar', (number | null)[]> = {
    type: 'bar',
    data: {
      labels: bars.map((b) => [b.design, `(${b.config})`]) as never,
      datasets: [
        {
          label: 'max throughput under the SLOs',
          data: bars.map((b) => b.maxRate),
          backgroundColor: bars.map((b) => colorOf(b.design)),
          borderColor: bars.map((b) => colorOf(b.design)),
          borderWidth: 1,
          maxBarThickness: 80,
          colors: bars.map((b) => colorOf(b.design)),
          notes: bars.map((b) => [
            b.maxRate === null ? 'no rate passed' : `${fmtNumber(b.maxRate)} req/s`,
            b.throughputX === null ? '' : `${b.throughputX.toFixed(2)}×`,
            b.binding ? shortRule(b.binding) : '',
          ]),
          errorBars: bars.map((b) =>
            b.min !== undefined && b.max !== undefined && b.min !== null && b.max !== null && b.max > b.min ? { lo: b.min, hi: b.max } : null,
          ),
        } as never,
      ],
    },
    options: {
      layout: { padding: { left: 4, right: 12, top: 2, bottom: 2 } },
      plugins: {
        title: {
          display: true,
          text: title,
          font: { size: TITLE_SIZE, weight: 'bold', family: FONT_FAMILY },
          color: TEXT_COLOR,
          padding: { top: 4, bottom: 6 },
        },
        legend: { display: false },
        tooltip: { enabled: false },
      },
      scales: {
        x: {
          grid: { display: false },
          ticks: { font: { size: FONT_SIZE - 1, family: FONT_FAMILY }, color: TEXT_COLOR, maxRotation: 0, autoSkip: false },
          title: {
            display: true,
            text: 'design (machines); at the foot: × Baseline-A100; above: max rate and the SLO that binds first',
            font: { size: FONT_SIZE - 1, family: FONT_FAMILY },
            color: TEXT_COLOR,
          },
        },
        y: {
          beginAtZero: true,
          // Room above the tallest bar (or whisker) for its two lines of notes.
          suggestedMax: Math.max(1e-9, ...bars.map((b) => Math.max(b.max ?? 0, b.maxRate ?? 0))) * 1.22,
          grid: { color: GRID_COLOR },
          title: { display: true, text: 'max throughput meeting every SLO (req/s)', font: { size: FONT_SIZE, family: FONT_FAMILY }, color: TEXT_COLOR },
          ticks: { font: { size: FONT_SIZE, family: FONT_FAMILY }, color: TEXT_COLOR, callback: (v: number | string) => fmtNumber(Number(v)) },
        },
      },
    },
    plugins: [annotations],
  };
  return {
    spec: { kind: 'chartjs', config: config as unknown as ChartConfiguration },
    csv: {
      header: ['design', 'config', 'seeds', 'max rate mean (req/s)', 'min (req/s)', 'max (req/s)', 'throughput (x Baseline-A100)', 'binding SLO'],
      rows: bars.map((b) => [b.design, b.config, b.seeds ?? 1, b.maxRate, b.min ?? b.maxRate, b.max ?? b.maxRate, b.throughputX, b.binding ?? null]),
    },
  };
}

/** Write one figure as `<base>.<fmt>` for each format plus `<base>.csv`; returns the file names written. */
export function writeFigure(
  write: (name: string, data: string | Buffer) => void,
  base: string,
  fig: { spec: ChartSpec; csv: Csv },
  formats: readonly Format[] = ['png', 'svg', 'pdf'],
): void {
  for (const f of formats) write(`${base}.${f}`, renderChart(fig.spec, f, base));
  write(`${base}.csv`, csvText(fig.csv));
}

/** Colours by design, in the order the designs are listed: the same design keeps its colour in every figure. */
export function designColors(designs: readonly string[]): (design: string) => string {
  return (d) => runColor(Math.max(0, designs.indexOf(d)));
}
