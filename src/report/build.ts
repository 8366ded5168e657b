/**
 * `splitbench report`: load the runs, summarize them through `src/metrics`, draw every chart that has data
 * (or the `--chart` names), and write each chart as PNG/SVG/PDF with its data as CSV, plus `index.html` and
 * `report.md`, into one folder.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, SplitbenchError, ExitCode } from '../errors.js';
import { loadSlo, summarizeRun, type SloSpec } from '../metrics/index.js';
import { openStore, type Store } from '../store/index.js';
import { CHARTS, csvText, type ChartInput, type SloLimit } from './charts.js';
import { loadRuns, type RunData } from './data.js';
import { reportHtml, reportMarkdown, type DrawnChart, type SkippedChart } from './page.js';
import { CHART_NAMES, type ChartName } from './registry.js';
import { renderChart, type Format } from './render.js';
import { fromRunSummary, type ReportSummary } from './summary.js';

export interface ReportOptions {
  readonly db: string;
  /** Run ids or names, in legend/colour order. */
  readonly runs: readonly string[];
  /** Output folder; default results/report-<run names>. */
  readonly outDir?: string;
  /** Formats of every chart without its own entry in `chartFormats`. */
  readonly formats: readonly Format[];
  /** Per-chart formats (`--format NAME=pdf+svg`). */
  readonly chartFormats?: Readonly<Partial<Record<ChartName, readonly Format[]>>>;
  readonly title?: string;
  /** Draw only these charts (no pages). */
  readonly charts?: readonly ChartName[];
  /** SLO file (path or bundled name): goodput, attainment and the limits drawn on the load charts. */
  readonly slo?: string;
  /** Legend text by run id or name, or by deployment (sweep lines): `--label RUN=TEXT`. */
  readonly labels?: ReadonlyMap<string, string>;
  /** CDFs end their x axis at this quantile (0.5 < q < 1). */
  readonly clip?: number;
}

export interface ReportResult {
  readonly outDir: string;
  readonly files: string[];
  readonly charts: { name: string; files: string[] }[];
  readonly skipped: { name: string; reason: string }[];
  readonly runs: { id: number; name: string; label: string }[];
  readonly summaries: ReportSummary[];
  readonly notes: string[];
}

/** A folder name from run names: safe characters, bounded length, no timestamp (same runs → same folder). */
export function defaultOutDir(prefix: string, names: readonly string[]): string {
  const slug = names
    .map((n) => n.replace(/[^A-Za-z0-9._-]+/g, '_'))
    .join('-vs-')
    .slice(0, 80);
  return path.join('results', `${prefix}-${slug || 'runs'}`);
}

/** Absolute SLO limits on latency percentiles, for the load charts. */
export function sloLimitsOf(slo: SloSpec | undefined): SloLimit[] {
  if (!slo) return [];
  const out: SloLimit[] = [];
  for (const r of slo.rules) {
    if (r.limit.kind !== 'value' || r.stat === undefined) continue;
    if (r.base !== 'ttft' && r.base !== 'tpot' && r.base !== 'e2e') continue;
    out.push({ metric: r.base, stat: r.stat, limitS: r.limit.value, label: r.text });
  }
  return out;
}

export function openForReading(db: string): Store {
  return openStore(db, { readonly: true });
}

export interface LoadedReport {
  readonly runs: RunData[];
  readonly summaries: ReportSummary[];
  readonly slo: SloSpec | undefined;
  readonly notes: string[];
}

/** Load runs and their summaries (goodput from the SLO file's per-request limits when given). */
export async function loadReport(store: Store, refs: readonly string[], sloRef?: string, labels?: ReadonlyMap<string, string>): Promise<LoadedReport> {
  const slo = sloRef === undefined ? undefined : loadSlo(sloRef);
  const notes: string[] = [];
  const runs = await loadRuns(store, refs, labels);
  if (labels) {
    const known = new Set(runs.flatMap((r) => [String(r.info.id), r.info.name, r.info.deployment ?? '']));
    for (const k of labels.keys()) {
      if (!known.has(k))
        throw new ConfigError(`'${k}' is none of the reported runs (id or name) or their deployments`, {
          path: '--label',
          hint: `runs: ${runs.map((r) => `${r.info.id} (${r.info.name})`).join(', ')}`,
        });
    }
  }
  let summaryOpts: { slo?: SloSpec } = {};
  if (slo) {
    if (slo.perRequest.length === 0) notes.push(`SLO file ${slo.file} has no per_request limits, so there is no goodput.`);
    else if (slo.perRequest.some((r) => r.metric.startsWith('slowdown.'))) {
      notes.push(
        `SLO file ${slo.file} has per-request slowdown limits, which need a reference machine; goodput is left out (use \`splitbench summary\` with a reference).`,
      );
    } else summaryOpts = { slo };
  } else notes.push('No --slo file given: goodput and SLO attainment are left out and the load charts carry no SLO lines.');
  const summaries = runs.map((r) => fromRunSummary(summarizeRun(store, r.info.id, summaryOpts)));
  for (const r of runs) {
    if (r.info.status !== 'completed') notes.push(`Run ${r.label} is ${r.info.status}: its numbers cover only what was recorded.`);
    if (r.info.lagFlagged) notes.push(`Run ${r.label} was flagged for schedule lag: the client fell behind the trace.`);
    if (typeof r.info.notes['overloaded'] === 'string') notes.push(`Run ${r.label} was stopped as saturated: ${String(r.info.notes['overloaded'])}.`);
  }
  return { runs, summaries, slo, notes };
}

function chartFilesFor(name: ChartName, formats: readonly Format[], input: ChartInput, outDir: string): { drawn?: DrawnChart; skip?: string } {
  const def = CHARTS.find((c) => c.name === name)!;
  const res = def.build(input);
  if ('skip' in res) return { skip: res.skip };
  const files: DrawnChart['files'] = {};
  for (const f of formats) {
    const bytes = renderChart(res.spec, f, name);
    const file = `${name}.${f}`;
    fs.writeFileSync(path.join(outDir, file), bytes);
    files[f] = { file, bytes };
  }
  const csv = `${name}.csv`;
  fs.writeFileSync(path.join(outDir, csv), csvText(res.csv));
  return { drawn: { info: def, files, csv } };
}

export async function buildReport(opts: ReportOptions): Promise<ReportResult> {
  if (opts.runs.length === 0) throw new ConfigError('name at least one run', { path: '--run', hint: 'list runs with `splitbench runs list`' });
  if (opts.formats.length === 0) throw new ConfigError('name at least one format (png, svg, pdf)', { path: '--format' });
  for (const c of [...(opts.charts ?? []), ...Object.keys(opts.chartFormats ?? {})]) {
    if (!CHART_NAMES.includes(c as ChartName)) throw new ConfigError(`unknown chart '${c}'`, { path: '--chart', hint: `charts: ${CHART_NAMES.join(', ')}` });
  }
  if (opts.clip !== undefined && !(opts.clip > 0.5 && opts.clip < 1))
    throw new ConfigError(`expected a quantile between 0.5 and 1 (e.g. 0.999), got ${opts.clip}`, { path: '--clip' });
  const store = openForReading(opts.db);
  try {
    const loaded = await loadReport(store, opts.runs, opts.slo, opts.labels);
    const outDir =
      opts.outDir ??
      defaultOutDir(
        'report',
        loaded.runs.map((r) => r.label),
      );
    try {
      fs.mkdirSync(outDir, { recursive: true });
    } catch (e) {
      throw new ConfigError(`cannot create the output folder ${outDir}: ${(e as Error).message}`, { path: '--out' });
    }
    const title = opts.title ?? `splitbench report: ${loaded.runs.map((r) => r.label).join(' vs ')}`;
    const input: ChartInput = {
      runs: loaded.runs,
      summaries: loaded.summaries,
      sloLimits: sloLimitsOf(loaded.slo),
      slo: loaded.slo,
      ...(opts.labels ? { labels: opts.labels } : {}),
      ...(opts.clip === undefined ? {} : { clip: opts.clip }),
      ...(opts.title === undefined ? {} : { title: opts.title }),
    };
    const only = opts.charts && opts.charts.length > 0 ? [...new Set(opts.charts)] : undefined;
    const names = only ?? CHART_NAMES;
    const drawn: DrawnChart[] = [];
    const skipped: SkippedChart[] = [];
    for (const name of names) {
      const r = chartFilesFor(name, opts.chartFormats?.[name] ?? opts.formats, input, outDir);
      if (r.drawn) drawn.push(r.drawn);
      else skipped.push({ info: CHARTS.find((c) => c.name === name)!, reason: r.skip! });
    }
    if (only && drawn.length === 0) {
      throw new SplitbenchError('SB_REPORT_NO_DATA', skipped.map((s) => `chart ${s.info.name} has nothing to draw: ${s.reason}`).join('; '), {
        exitCode: ExitCode.usage,
      });
    }
    const chartFiles = (d: DrawnChart): string[] => [...Object.values(d.files).map((f) => path.join(outDir, f!.file)), path.join(outDir, d.csv)];
    const files = drawn.flatMap(chartFiles);
    if (!only) {
      const page = { title, runs: loaded.runs, summaries: loaded.summaries, drawn, skipped, notes: loaded.notes };
      fs.writeFileSync(path.join(outDir, 'report.md'), reportMarkdown(page));
      fs.writeFileSync(path.join(outDir, 'index.html'), reportHtml(page));
      files.push(path.join(outDir, 'report.md'), path.join(outDir, 'index.html'));
    }
    return {
      outDir,
      files,
      charts: drawn.map((d) => ({ name: d.info.name, files: chartFiles(d) })),
      skipped: skipped.map((s) => ({ name: s.info.name, reason: s.reason })),
      runs: loaded.runs.map((r) => ({ id: r.info.id, name: r.info.name, label: r.label })),
      summaries: loaded.summaries,
      notes: loaded.notes,
    };
  } finally {
    store.close();
  }
}
