/**
 * Reports: comparison charts (chart.js on @napi-rs/canvas, PNG, SVG and PDF, each with its data as CSV), `index.html` and `report.md`
 * pages, and run-against-run comparisons. Reads only the store, through `src/metrics`.
 *
 * This face stays light (chart names only); the renderer loads when a report is built.
 */
export { CHART_INFO, CHART_NAMES, type ChartInfo, type ChartName } from './registry.js';
export type { ReportOptions, ReportResult } from './build.js';
export type { Comparison, MetricComparison, SloMove } from './compare.js';

export const REPORT_FORMATS = ['png', 'svg', 'pdf'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

export async function buildReport(opts: import('./build.js').ReportOptions): Promise<import('./build.js').ReportResult> {
  return (await import('./build.js')).buildReport(opts);
}

export async function compareRuns(opts: { db: string; a: string; b: string; slo?: string }): Promise<import('./compare.js').Comparison> {
  return (await import('./compare.js')).compareRuns(opts);
}

export async function comparisonText(c: import('./compare.js').Comparison, color: boolean, table: (rows: string[][]) => string): Promise<string> {
  return (await import('./compare.js')).comparisonText(c, color, table);
}

export async function writeComparison(c: import('./compare.js').Comparison, outDir?: string): Promise<{ outDir: string; files: string[] }> {
  return (await import('./compare.js')).writeComparison(c, outDir);
}
