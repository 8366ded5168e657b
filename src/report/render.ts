/**
 * Rendering: chart.js 4 on @napi-rs/canvas (no browser, no system packages). PNG at 2× pixel density;
 * SVG through the canvas' SVG backend with text converted to paths (self-contained, no font needed to view);
 * PDF through the canvas' Skia PDF backend (vector, the bundled font embedded as a subset), one page per
 * chart at its CSS size in points. Deterministic: no animation, fixed sizes and the bundled font.
 */
import { Canvas, PDFDocument, SvgExportFlag } from '@napi-rs/canvas';
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Filler,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  LogarithmicScale,
  PointElement,
  Title,
  Tooltip,
  type ChartConfiguration,
  type Plugin,
} from 'chart.js';
import { CHART_HEIGHT, CHART_WIDTH, ensureFonts, FONT_FAMILY, FONT_SIZE, PNG_SCALE, TEXT_COLOR } from './style.js';

export const FORMATS = ['png', 'svg', 'pdf'] as const;
export type Format = (typeof FORMATS)[number];

/** Raw drawing, for charts chart.js has no type for (the SLO matrix). Sizes in CSS px. */
export type DrawFn = (ctx: DrawContext, width: number, height: number) => void;
/** The subset of the 2D context the raw drawings use. */
export interface DrawContext {
  fillStyle: string;
  strokeStyle: string;
  lineWidth: number;
  font: string;
  textAlign: 'left' | 'right' | 'center' | 'start' | 'end';
  textBaseline: 'top' | 'middle' | 'bottom' | 'alphabetic' | 'hanging' | 'ideographic';
  fillRect(x: number, y: number, w: number, h: number): void;
  strokeRect(x: number, y: number, w: number, h: number): void;
  fillText(text: string, x: number, y: number, maxWidth?: number): void;
  measureText(text: string): { width: number };
  save(): void;
  restore(): void;
  scale(x: number, y: number): void;
  translate(x: number, y: number): void;
  rotate(angle: number): void;
}

export type ChartSpec =
  | { readonly kind: 'chartjs'; readonly config: ChartConfiguration }
  | { readonly kind: 'draw'; readonly draw: DrawFn; readonly width?: number; readonly height?: number };

let registered = false;
function registerChartJs(): void {
  if (registered) return;
  Chart.register(
    LineController,
    BarController,
    LineElement,
    PointElement,
    BarElement,
    LinearScale,
    LogarithmicScale,
    CategoryScale,
    Legend,
    Title,
    Tooltip,
    Filler,
  );
  Chart.defaults.font.family = FONT_FAMILY;
  Chart.defaults.font.size = FONT_SIZE;
  Chart.defaults.color = TEXT_COLOR;
  registered = true;
}

const whiteBackground: Plugin = {
  id: 'splitbenchWhiteBackground',
  beforeDraw(chart) {
    const ctx = chart.ctx;
    ctx.save();
    ctx.globalCompositeOperation = 'source-over';
    ctx.fillStyle = '#ffffff';
    ctx.fillRect(0, 0, chart.width, chart.height);
    ctx.restore();
  },
};

function makeCanvas(format: Format, w: number, h: number): Canvas {
  return format === 'svg' ? new Canvas(w, h, SvgExportFlag.ConvertTextToPaths) : new Canvas(w, h);
}

/**
 * Skia numbers SVG clip-path ids with a process-wide counter (`cl_1f`), so the same chart would get other
 * ids after other charts were drawn, and two inlined SVGs could clash. Renumber them per file, in order of
 * appearance, under a prefix.
 */
export function renumberSvgIds(svg: string, prefix: string): string {
  const map = new Map<string, string>();
  return svg.replace(/\bcl_[0-9a-f]+\b/g, (id) => {
    let v = map.get(id);
    if (v === undefined) {
      v = `${prefix}-${map.size}`;
      map.set(id, v);
    }
    return v;
  });
}

function output(canvas: Canvas, format: Format, idPrefix: string): Buffer {
  if (format === 'svg') {
    const svg = (canvas as unknown as { getContent(): Buffer }).getContent().toString('utf8');
    return Buffer.from(renumberSvgIds(svg, idPrefix), 'utf8');
  }
  return canvas.encodeSync('png');
}

/**
 * A PDF page's 2D context has no canvas behind it; chart.js wants one (size, `getContext`). Give it a
 * stand-in that hands back the page's context.
 */
function pdfTarget(ctx: object, w: number, h: number): object {
  const target = { width: w, height: h, style: {}, getContext: () => ctx };
  Object.defineProperty(ctx, 'canvas', { value: target, configurable: true });
  return target;
}

/** Render one chart to PNG, SVG or PDF bytes; `idPrefix` names the SVG's internal ids (use the chart's name). */
export function renderChart(spec: ChartSpec, format: Format, idPrefix = 'sb'): Buffer {
  ensureFonts();
  if (format === 'pdf') return renderPdf(spec, idPrefix);
  if (spec.kind === 'draw') {
    const w = spec.width ?? CHART_WIDTH;
    const h = spec.height ?? CHART_HEIGHT;
    const scale = format === 'png' ? PNG_SCALE : 1;
    const canvas = makeCanvas(format, w * scale, h * scale);
    const ctx = canvas.getContext('2d');
    ctx.lang = 'en';
    ctx.scale(scale, scale);
    ctx.fillStyle = '#ffffff';
    ctx.fillRect(0, 0, w, h);
    spec.draw(ctx as unknown as DrawContext, w, h);
    return output(canvas, format, idPrefix);
  }
  registerChartJs();
  const canvas = makeCanvas(format, CHART_WIDTH, CHART_HEIGHT);
  const ctx = canvas.getContext('2d');
  ctx.lang = 'en';
  const chart = new Chart(ctx as never, chartConfig(spec.config, format === 'png' ? PNG_SCALE : 1));
  try {
    return output(canvas, format, idPrefix);
  } finally {
    chart.destroy();
  }
}

function chartConfig(config: ChartConfiguration, pixelRatio: number): ChartConfiguration {
  return {
    ...config,
    options: {
      ...config.options,
      animation: false,
      responsive: false,
      maintainAspectRatio: false,
      devicePixelRatio: pixelRatio,
      events: [],
    },
    plugins: [whiteBackground, ...(config.plugins ?? [])],
  } as ChartConfiguration;
}

function renderPdf(spec: ChartSpec, title: string): Buffer {
  // Fixed metadata (no creation date): the same chart gives the same bytes.
  const doc = new PDFDocument({ title, creator: 'splitbench', producer: 'splitbench (Skia/PDF)' });
  const w = spec.kind === 'draw' ? (spec.width ?? CHART_WIDTH) : CHART_WIDTH;
  const h = spec.kind === 'draw' ? (spec.height ?? CHART_HEIGHT) : CHART_HEIGHT;
  const ctx = doc.beginPage(w, h);
  ctx.lang = 'en';
  if (spec.kind === 'draw') {
    ctx.fillStyle = '#ffffff';
    ctx.fillRect(0, 0, w, h);
    spec.draw(ctx as unknown as DrawContext, w, h);
    doc.endPage();
    return doc.close();
  }
  registerChartJs();
  const chart = new Chart(pdfTarget(ctx, w, h) as never, chartConfig(spec.config, 1));
  try {
    doc.endPage();
    return doc.close();
  } finally {
    chart.destroy();
  }
}
