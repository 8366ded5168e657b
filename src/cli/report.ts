/** `splitbench report`: comparison charts (PNG/SVG/PDF + CSV), index.html and report.md for runs; `--compare A B`. */
import type { CommandModule } from 'yargs';
import { RESULTS_FLAGS } from '../flags.js';
import { addFlags, pickFlags, readFlags } from '../flagspec.js';
import { CHART_INFO, REPORT_FORMATS, type ChartName, type ReportFormat } from '../report/index.js';
import { setExitCode } from './main.js';

/**
 * `--format` entries: `png,svg,pdf` (every chart) or `NAME=pdf+svg` (one chart). Returns the formats for
 * all charts (default png,svg when no entry names any) and the per-chart ones.
 */
export function parseFormats(
  entries: readonly string[],
  ConfigError: new (m: string, o: { path: string; hint?: string }) => Error,
): { all: ReportFormat[]; per: Partial<Record<ChartName, ReportFormat[]>> } {
  const known = REPORT_FORMATS as readonly string[];
  const check = (f: string): ReportFormat => {
    if (!known.includes(f)) throw new ConfigError(`unknown format '${f}' (known: ${REPORT_FORMATS.join(', ')})`, { path: '--format' });
    return f as ReportFormat;
  };
  const all: ReportFormat[] = [];
  const per: Partial<Record<ChartName, ReportFormat[]>> = {};
  for (const e of entries) {
    const eq = String(e).indexOf('=');
    if (eq >= 0) {
      const name = String(e).slice(0, eq).trim();
      if (!CHART_INFO.some((c) => c.name === name))
        throw new ConfigError(`unknown chart '${name}' in '${e}'`, { path: '--format', hint: `charts: ${CHART_INFO.map((c) => c.name).join(', ')}` });
      const fs = String(e)
        .slice(eq + 1)
        .split(/[+,]/)
        .map((f) => f.trim().toLowerCase())
        .filter((f) => f !== '');
      if (fs.length === 0) throw new ConfigError(`'${e}' names no format`, { path: '--format', hint: 'e.g. --format cdf-ttft=pdf+svg' });
      per[name as ChartName] = [...new Set(fs.map(check))];
      continue;
    }
    for (const f of String(e)
      .split(',')
      .map((x) => x.trim().toLowerCase())
      .filter((x) => x !== ''))
      if (!all.includes(check(f))) all.push(f as ReportFormat);
  }
  return { all: all.length > 0 ? all : ['png', 'svg'], per };
}

/** `--label RUN=TEXT` entries (RUN: id, name, or a deployment for sweep lines). */
export function parseLabels(entries: readonly string[], ConfigError: new (m: string, o: { path: string; hint?: string }) => Error): Map<string, string> {
  const out = new Map<string, string>();
  for (const e of entries) {
    const i = String(e).indexOf('=');
    const k = i > 0 ? String(e).slice(0, i).trim() : '';
    const v =
      i > 0
        ? String(e)
            .slice(i + 1)
            .trim()
        : '';
    if (k === '' || v === '')
      throw new ConfigError(`expected RUN=TEXT, got '${e}'`, { path: '--label', hint: 'e.g. --label 3="Splitwise-HH" --label mono-70=Baseline' });
    if (out.has(k)) throw new ConfigError(`'${k}' labelled twice`, { path: '--label' });
    out.set(k, v);
  }
  return out;
}

const REPORT_FLAGS = {
  run: { type: 'string', array: true, describe: 'run id, name or uuid (repeat; legend and colour order)', requiresArg: true },
  compare: {
    type: 'string',
    array: true,
    describe: 'compare run B against run A: ratios B/A of every summary metric and SLO verdicts that moved',
    requiresArg: true,
  },
  ...pickFlags(RESULTS_FLAGS, 'db'),
  out: {
    type: 'string',
    defaultText: 'results/report-<run names>, or results/compare-A-vs-B',
    describe: 'output folder',
    requiresArg: true,
  },
  format: {
    type: 'string',
    array: true,
    defaultText: 'png,svg',
    describe: `image formats for every chart, comma-separated (${REPORT_FORMATS.join(', ')}), or NAME=FMT+FMT for one chart (repeat)`,
    requiresArg: true,
  },
  title: { type: 'string', describe: 'title prefix for the charts and the page', requiresArg: true },
  chart: {
    type: 'string',
    array: true,
    describe: 'draw only these charts (repeat or comma-separate; no pages); see the list below',
    requiresArg: true,
  },
  slo: {
    type: 'string',
    describe: 'SLO file (path or bundled name): goodput, SLO attainment, and limits drawn on the load charts',
    requiresArg: true,
  },
  label: {
    type: 'string',
    array: true,
    describe: 'RUN=TEXT: legend text for a run (id or name) or a deployment (sweep lines); repeat',
    requiresArg: true,
  },
  clip: {
    type: 'number',
    describe: 'CDFs: end the x axis at this quantile of the values (e.g. 0.999), hiding a few far outliers',
    parse: (v: number): number => {
      if (!(v > 0.5 && v < 1)) throw new Error(`expected a quantile between 0.5 and 1 (e.g. 0.999), got ${v}`);
      return v;
    },
    requiresArg: true,
  },
  json: { type: 'boolean', default: false, describe: 'print the result as JSON' },
} as const;

const chartList = CHART_INFO.map((c) => `  ${c.name.padEnd(18)} ${c.description}`).join('\n');

export const reportCommand: CommandModule<object, Record<string, unknown>> = {
  command: 'report',
  describe: 'charts (PNG/SVG/PDF, each with its CSV), index.html and report.md comparing runs; or --compare A B',
  builder: (y) =>
    addFlags(y, REPORT_FLAGS)
      .example('$0 report --run mono-70 --run split-70', 'every chart with data, into results/report-mono-70-vs-split-70/')
      .example('$0 report --run 3 --run 4 --run 5 --slo interactive --format svg', 'a sweep, with the bundled interactive SLO lines and goodput, SVG only')
      .example('$0 report --run mono-70 --run split-70 --chart cdf-ttft,slowdown --format pdf --out fig/', 'two charts as PDF (plus their CSV)')
      .example(
        '$0 report --run 3 --run 4 --label 3=Baseline --label 4=Splitwise --format png --format pareto=pdf+svg',
        'labelled legends, PNG, and the Pareto chart as PDF and SVG instead',
      )
      .example('$0 report --compare baseline candidate', 'ratios candidate/baseline, better/worse, SLO verdicts that moved')
      .epilogue(`Charts (--chart NAME):\n${chartList}`),
  handler: async (argv) => {
    const f = readFlags('report', REPORT_FLAGS, argv);
    const { ConfigError } = await import('../errors.js');
    const formats = parseFormats(f.format ?? [], ConfigError);
    const labels = parseLabels(f.label ?? [], ConfigError);
    const { printJson, formatTable } = await import('./output.js');
    if (f.compare !== undefined) {
      if (f.run !== undefined) throw new ConfigError('give either --run (a report) or --compare A B, not both', { path: '--compare' });
      if (f.compare.length !== 2) {
        throw new ConfigError(`needs exactly two runs, A then B (got ${f.compare.length})`, {
          path: '--compare',
          hint: 'e.g. --compare baseline candidate',
        });
      }
      const report = await import('../report/index.js');
      const c = await report.compareRuns({
        db: f.db,
        a: String(f.compare[0]),
        b: String(f.compare[1]),
        ...(f.slo === undefined ? {} : { slo: f.slo }),
      });
      const written = await report.writeComparison(c, f.out);
      if (f.json) printJson('report', { ...c, outDir: written.outDir, files: written.files });
      else {
        process.stdout.write(await report.comparisonText(c, Boolean(process.stdout.isTTY), (rows) => formatTable(rows)));
        process.stdout.write(`\nwrote ${written.files.join(', ')}\n`);
      }
      setExitCode(0);
      return;
    }
    if (!f.run || f.run.length === 0) {
      throw new ConfigError('name the runs to report on', {
        path: '--run',
        hint: 'e.g. --run mono-70 --run split-70, or --compare A B; list runs with `splitbench runs list`',
      });
    }
    const charts = (f.chart ?? [])
      .flatMap((c) => String(c).split(','))
      .map((c) => c.trim())
      .filter((c) => c !== '');
    for (const c of charts) {
      if (!CHART_INFO.some((i) => i.name === c))
        throw new ConfigError(`unknown chart '${c}'`, { path: '--chart', hint: `charts: ${CHART_INFO.map((i) => i.name).join(', ')}` });
    }
    const { buildReport } = await import('../report/index.js');
    const res = await buildReport({
      db: f.db,
      runs: f.run.map(String),
      formats: formats.all,
      chartFormats: formats.per,
      ...(f.out === undefined ? {} : { outDir: f.out }),
      ...(f.title === undefined ? {} : { title: f.title }),
      ...(charts.length === 0 ? {} : { charts: charts as ChartName[] }),
      ...(f.slo === undefined ? {} : { slo: f.slo }),
      ...(labels.size === 0 ? {} : { labels }),
      ...(f.clip === undefined ? {} : { clip: f.clip }),
    });
    if (f.json) {
      printJson('report', res);
      return;
    }
    const out: string[] = [`wrote ${res.charts.length} chart${res.charts.length === 1 ? '' : 's'} (${res.files.length} files) to ${res.outDir}`];
    for (const c of res.charts) out.push(`  ${c.name.padEnd(18)} ${c.files.map((f) => f.slice(res.outDir.length + 1)).join(', ')}`);
    if (res.skipped.length > 0) {
      out.push('not drawn (no data):');
      for (const s of res.skipped) out.push(`  ${s.name.padEnd(18)} ${s.reason}`);
    }
    for (const n of res.notes) out.push(`note: ${n}`);
    if (charts.length === 0) out.push(`open ${res.outDir}/index.html, or paste ${res.outDir}/report.md into a review`);
    process.stdout.write(`${out.join('\n')}\n`);
  },
};
