/**
 * The report pages: `report.md` (summary table + image links, for pasting into reviews) and a
 * self-contained `index.html` (inline SVG, or PNG data URIs, plus the same tables and relative links to
 * every image and CSV in the folder). No timestamps: the same data gives the same bytes.
 */
import type { RunData } from './data.js';
import { fmtMetric, fmtNumber, SUMMARY_METRICS, type ReportSummary } from './summary.js';
import type { ChartInfo } from './registry.js';

export interface DrawnChart {
  readonly info: ChartInfo;
  /** Format → file name (relative to the report folder) and bytes. */
  readonly files: Partial<Record<'png' | 'svg' | 'pdf', { file: string; bytes: Buffer }>>;
  /** The chart's data, relative to the report folder. */
  readonly csv: string;
}

export interface SkippedChart {
  readonly info: ChartInfo;
  readonly reason: string;
}

export interface PageInput {
  readonly title: string;
  readonly runs: readonly RunData[];
  readonly summaries: readonly ReportSummary[];
  readonly drawn: readonly DrawnChart[];
  readonly skipped: readonly SkippedChart[];
  readonly notes: readonly string[];
}

/** The run's trace file (base name) and the window of it that was used, if any. */
function traceText(r: RunData): string {
  const file = r.info.tracePath ? r.info.tracePath.split(/[\\/]/).pop()! : '-';
  const t = r.info.options['transforms'] as { window?: unknown } | undefined;
  const w = Array.isArray(t?.window) ? (t!.window as unknown[]) : undefined;
  const win = w ? ` [${String(w[0] ?? 0)} s, ${w[1] === null || w[1] === undefined ? 'end' : `${String(w[1])} s`})` : '';
  return file + win;
}

/**
 * The flags of a run: status, lag, saturation (the summary's check, or a sweep's overload stop), unfinished
 * requests, skipped trace rows.
 */
export function runFlags(r: RunData, s?: ReportSummary): string[] {
  const f: string[] = [];
  if (r.info.status !== 'completed') f.push(r.info.status);
  if (r.info.lagFlagged) f.push(`lag (p99 ${r.info.lagP99S === null ? '?' : `${fmtNumber(r.info.lagP99S * 1000)} ms`})`);
  if (r.info.distorted) f.push(`distorted (${r.info.distortedReason ?? 'no reason recorded'})`);
  if (r.info.twinRunId !== null) f.push(`twin: sim run ${r.info.twinRunId}`);
  if (typeof r.info.notes['overloaded'] === 'string') f.push('saturated (overloaded)');
  else if (s?.saturated) f.push(`saturated (${s.saturated})`);
  const nc = r.info.notes['neverCompleted'];
  if (typeof nc === 'number' && nc > 0) f.push(`${nc} never completed`);
  const skipped = r.info.notes['skippedTraceRows'];
  if (typeof skipped === 'number' && skipped > 0) f.push(`${skipped} trace rows skipped`);
  return f;
}

function runRows(runs: readonly RunData[], summaries: readonly ReportSummary[]): string[][] {
  return [
    ['run', 'id', 'kind', 'status', 'model', 'deployment', 'trace and window', 'time scale', 'seed', 'offered load (req/s)', 'requests', 'flags', 'version'],
    ...runs.map((r, i) => [
      r.label,
      String(r.info.id),
      r.info.kind,
      r.info.status,
      r.info.model ?? '-',
      r.info.deployment ?? '-',
      traceText(r),
      `×${fmtNumber(r.info.timeScale)}`,
      r.record?.seed === null || r.record?.seed === undefined ? '-' : String(r.record.seed),
      r.info.offeredRate === null ? '-' : String(r.info.offeredRate),
      String(r.counts.total),
      runFlags(r, summaries[i]).join('; ') || 'none',
      r.record?.splitbenchVersion ?? '-',
    ]),
  ];
}

/** Metrics as rows, runs as columns (reads well for the usual 2–4 runs). */
export function summaryRows(runs: readonly RunData[], summaries: readonly ReportSummary[]): string[][] {
  const rows: string[][] = [['metric', ...runs.map((r) => r.label)]];
  for (const d of SUMMARY_METRICS) {
    const vals = summaries.map((s) => s[d.key]);
    if (vals.every((v) => v === undefined)) continue;
    rows.push([d.label, ...vals.map((v) => fmtMetric(d, v))]);
  }
  // Per-pool shares of cost and energy (runs with priced machines / power samples per role).
  const pools = [...new Set(summaries.flatMap((s) => Object.keys(s.pools ?? {})))].sort();
  const cost = SUMMARY_METRICS.find((d) => d.key === 'costPer1MOutputUsd')!;
  const energy = SUMMARY_METRICS.find((d) => d.key === 'energyPerOutputTokenJ')!;
  for (const p of pools) {
    for (const [d, k] of [
      [cost, 'costPer1MOutputUsd'],
      [energy, 'energyPerOutputTokenJ'],
    ] as const) {
      const vals = summaries.map((s) => s.pools?.[p]?.[k]);
      if (vals.every((v) => v === undefined)) continue;
      rows.push([`${d.label}, pool ${p}`, ...vals.map((v) => fmtMetric(d, v))]);
    }
  }
  return rows;
}

/** A cell that reads as a number (with an optional unit, $ or ×), or '-' for none. */
const NUMERIC = /^(-|[$×]?-?[\d.,]+(e-?\d+)?(\s?[a-zµ%/1M ]*)?)$/i;

function mdTable(rows: readonly (readonly string[])[]): string {
  const esc = (c: string): string => c.replace(/\|/g, '\\|');
  const [head, ...body] = rows;
  return [
    `| ${head!.map(esc).join(' | ')} |`,
    `|${head!.map((_, i) => (i > 0 && body.every((r) => NUMERIC.test(r[i] ?? '')) ? '---:' : '---')).join('|')}|`,
    ...body.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n');
}

export function reportMarkdown(p: PageInput): string {
  const out: string[] = [
    `# ${p.title}`,
    '',
    '## Runs',
    '',
    mdTable(runRows(p.runs, p.summaries)),
    '',
    '## Summary',
    '',
    mdTable(summaryRows(p.runs, p.summaries)),
    '',
  ];
  for (const n of p.notes) out.push(`> ${n}`, '');
  out.push('## Charts', '');
  for (const c of p.drawn) {
    const img = c.files.png ?? c.files.svg;
    out.push(`### ${c.info.title}`, '', `${c.info.description}.`, '');
    if (img) out.push(`![${c.info.name}](${img.file})`, '');
    out.push(
      `Files: ${fileLinks(c)
        .map(([t, f]) => `[${t}](${f})`)
        .join(', ')}`,
      '',
    );
  }
  if (p.skipped.length > 0) {
    out.push('## Charts not drawn', '');
    for (const s of p.skipped) out.push(`- **${s.info.name}** (${s.info.title}): ${s.reason}.`);
    out.push('');
  }
  return out.join('\n');
}

/** Every file of a chart: images in format order, then the data. */
function fileLinks(c: DrawnChart): [string, string][] {
  const out: [string, string][] = [];
  for (const f of ['png', 'svg', 'pdf'] as const) if (c.files[f]) out.push([f.toUpperCase(), c.files[f]!.file]);
  out.push(['CSV', c.csv]);
  return out;
}

const escHtml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function htmlTable(rows: readonly (readonly string[])[]): string {
  const [head, ...body] = rows;
  return [
    '<table>',
    `<thead><tr>${head!.map((c) => `<th>${escHtml(c)}</th>`).join('')}</tr></thead>`,
    '<tbody>',
    ...body.map((r) => `<tr>${r.map((c, i) => (i === 0 ? `<th>${escHtml(c)}</th>` : `<td>${escHtml(c)}</td>`)).join('')}</tr>`),
    '</tbody>',
    '</table>',
  ].join('\n');
}

/** Strip the XML prolog so an SVG file can be inlined into HTML. */
function inlineSvg(svg: Buffer): string {
  return svg.toString('utf8').replace(/^<\?xml[^>]*\?>\s*/, '');
}

export function reportHtml(p: PageInput): string {
  const out: string[] = [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<title>${escHtml(p.title)}</title>`,
    '<style>',
    'body{font-family:"DejaVu Sans",Verdana,sans-serif;margin:2em auto;max-width:1460px;color:#222;padding:0 1em}',
    'table{border-collapse:collapse;margin:0.5em 0 1.5em}th,td{border:1px solid #ccc;padding:4px 10px}td{text-align:right}',
    'thead th{background:#f2f2f2}figure{display:inline-block;margin:0 12px 24px 0;vertical-align:top;width:700px}',
    'figure svg,figure img{width:700px;height:auto;border:1px solid #eee}figcaption{font-size:13px;color:#444}',
    '.note{background:#fff8e1;border-left:4px solid #E69F00;padding:6px 10px}',
    '</style>',
    '</head>',
    '<body>',
    `<h1>${escHtml(p.title)}</h1>`,
    '<h2>Runs</h2>',
    htmlTable(runRows(p.runs, p.summaries)),
    '<h2>Summary</h2>',
    htmlTable(summaryRows(p.runs, p.summaries)),
    ...p.notes.map((n) => `<p class="note">${escHtml(n)}</p>`),
    '<h2>Charts</h2>',
  ];
  for (const c of p.drawn) {
    const body = c.files.svg
      ? inlineSvg(c.files.svg.bytes)
      : c.files.png
        ? `<img alt="${escHtml(c.info.title)}" src="data:image/png;base64,${c.files.png.bytes.toString('base64')}">`
        : '';
    const links = fileLinks(c)
      .map(([t, f]) => `<a href="${escHtml(f)}">${t}</a>`)
      .join(' · ');
    out.push(
      `<figure id="${c.info.name}">`,
      body,
      `<figcaption><b>${escHtml(c.info.title)}</b>: ${escHtml(c.info.description)}. <span class="files">${links}</span></figcaption>`,
      '</figure>',
    );
  }
  if (p.skipped.length > 0) {
    out.push('<h2>Charts not drawn</h2>', '<ul>');
    for (const s of p.skipped) out.push(`<li><b>${escHtml(s.info.name)}</b> (${escHtml(s.info.title)}): ${escHtml(s.reason)}.</li>`);
    out.push('</ul>');
  }
  out.push('</body>', '</html>', '');
  return out.join('\n');
}
