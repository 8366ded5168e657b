/**
 * `splitbench report --compare A B`: every summary metric of B against A (ratio B/A, arrow for the
 * direction, better/worse by the metric's sense) and the SLO verdicts that moved between them.
 */
import fs from 'node:fs';
import path from 'node:path';
import { findRun, loadSlo, summarizeRun, type SloSpec } from '../metrics/index.js';
import { latestVerdicts } from './data.js';
import { defaultOutDir, openForReading } from './build.js';
import { fmtMetric, fmtNumber, SUMMARY_METRICS, fromRunSummary, type MetricDescriptor, type ReportSummary } from './summary.js';

export type Verdict = 'better' | 'worse' | 'same' | 'n/a';

export interface MetricComparison {
  readonly key: string;
  readonly label: string;
  readonly a: number | null;
  readonly b: number | null;
  /** b / a; null when either is missing or a is 0. */
  readonly ratio: number | null;
  readonly arrow: '↑' | '↓' | '=' | '';
  readonly verdict: Verdict;
}

export interface SloMove {
  readonly sloFile: string;
  readonly rule: string;
  readonly a: 'pass' | 'fail' | null;
  readonly b: 'pass' | 'fail' | null;
  /** 'pass→fail' (regression), 'fail→pass' (fixed), 'same', or 'only-a' / 'only-b'. */
  readonly change: 'pass→fail' | 'fail→pass' | 'same' | 'only-a' | 'only-b';
}

export interface Comparison {
  readonly a: { id: number; name: string };
  readonly b: { id: number; name: string };
  readonly metrics: MetricComparison[];
  readonly slo: SloMove[];
}

/** Relative change below which two values count as the same (0.5%). */
export const SAME_WITHIN = 0.005;

export function compareMetric(d: MetricDescriptor, a: number | undefined, b: number | undefined): MetricComparison {
  const base = { key: d.key, label: d.label, a: a ?? null, b: b ?? null };
  if (a === undefined || b === undefined) return { ...base, ratio: null, arrow: '', verdict: 'n/a' };
  const ratio = a === 0 ? (b === 0 ? 1 : null) : b / a;
  const same = a === b || (ratio !== null && Math.abs(ratio - 1) <= SAME_WITHIN);
  const arrow = same ? '=' : b > a ? '↑' : '↓';
  let verdict: Verdict = 'same';
  if (!same) verdict = d.better === 'none' ? 'n/a' : b > a === (d.better === 'higher') ? 'better' : 'worse';
  return { ...base, ratio, arrow, verdict };
}

export function compareSummaries(a: ReportSummary, b: ReportSummary): MetricComparison[] {
  return SUMMARY_METRICS.map((d) => compareMetric(d, a[d.key], b[d.key])).filter((m) => m.a !== null || m.b !== null);
}

export function sloMoves(
  a: readonly { sloFile: string; rule: string; passed: boolean }[],
  b: readonly { sloFile: string; rule: string; passed: boolean }[],
): SloMove[] {
  const key = (v: { sloFile: string; rule: string }): string => `${v.sloFile}\u0000${v.rule}`;
  const bm = new Map(b.map((v) => [key(v), v]));
  const out: SloMove[] = [];
  for (const va of a) {
    const vb = bm.get(key(va));
    bm.delete(key(va));
    const pa = va.passed ? 'pass' : 'fail';
    if (!vb) {
      out.push({ sloFile: va.sloFile, rule: va.rule, a: pa, b: null, change: 'only-a' });
      continue;
    }
    const pb = vb.passed ? 'pass' : 'fail';
    out.push({ sloFile: va.sloFile, rule: va.rule, a: pa, b: pb, change: pa === pb ? 'same' : pa === 'pass' ? 'pass→fail' : 'fail→pass' });
  }
  for (const vb of bm.values()) out.push({ sloFile: vb.sloFile, rule: vb.rule, a: null, b: vb.passed ? 'pass' : 'fail', change: 'only-b' });
  return out;
}

export function compareRuns(opts: { db: string; a: string; b: string; slo?: string }): Comparison {
  const store = openForReading(opts.db);
  try {
    const slo: SloSpec | undefined = opts.slo === undefined ? undefined : loadSlo(opts.slo);
    const usable = slo && slo.perRequest.length > 0 && !slo.perRequest.some((r) => r.metric.startsWith('slowdown.')) ? { slo } : {};
    const ra = findRun(store, opts.a);
    const rb = findRun(store, opts.b);
    const sa = fromRunSummary(summarizeRun(store, ra.id, usable));
    const sb = fromRunSummary(summarizeRun(store, rb.id, usable));
    return {
      a: { id: ra.id, name: ra.name },
      b: { id: rb.id, name: rb.name },
      metrics: compareSummaries(sa, sb),
      slo: sloMoves(latestVerdicts(store, ra.id), latestVerdicts(store, rb.id)),
    };
  } finally {
    store.close();
  }
}

const fmtRatio = (r: number | null): string => (r === null ? '-' : `×${fmtNumber(r)}`);

function descriptor(key: string): MetricDescriptor {
  return SUMMARY_METRICS.find((d) => d.key === key)!;
}

/** Rows for a text or Markdown table: metric, A, B, B/A, change. */
export function comparisonRows(c: Comparison): string[][] {
  return [
    ['metric', c.a.name, c.b.name, 'B/A', 'change'],
    ...c.metrics.map((m) => {
      const d = descriptor(m.key);
      return [
        m.label,
        fmtMetric(d, m.a ?? undefined),
        fmtMetric(d, m.b ?? undefined),
        fmtRatio(m.ratio),
        m.verdict === 'n/a' ? m.arrow : `${m.arrow} ${m.verdict}`,
      ];
    }),
  ];
}

/** Plain text for the terminal; `color` adds green/red to better/worse. */
export function comparisonText(c: Comparison, color: boolean, table: (rows: string[][]) => string): string {
  const paint = (s: string, v: Verdict | 'regress' | 'fixed'): string => {
    if (!color) return s;
    if (v === 'better' || v === 'fixed') return `\x1b[32m${s}\x1b[0m`;
    if (v === 'worse' || v === 'regress') return `\x1b[31m${s}\x1b[0m`;
    return s;
  };
  const rows = comparisonRows(c);
  const lines = table(rows).split('\n');
  const out = [`Comparison: B = ${c.b.name} (#${c.b.id}) against A = ${c.a.name} (#${c.a.id})`, ''];
  lines.forEach((l, i) => {
    out.push(i === 0 ? l : paint(l, c.metrics[i - 1]!.verdict));
  });
  out.push('');
  out.push(...sloLines(c).map((l) => paint(l.text, l.kind)));
  return `${out.join('\n')}\n`;
}

function sloLines(c: Comparison): { text: string; kind: 'regress' | 'fixed' | 'same' }[] {
  if (c.slo.length === 0) return [{ text: 'SLO verdicts: none recorded for either run (run `splitbench gate`).', kind: 'same' }];
  const moved = c.slo.filter((m) => m.change === 'pass→fail' || m.change === 'fail→pass');
  const out: { text: string; kind: 'regress' | 'fixed' | 'same' }[] = [];
  out.push({ text: moved.length === 0 ? 'SLO verdicts: none moved.' : 'SLO verdicts that moved:', kind: 'same' });
  for (const m of moved) {
    out.push({
      text: `  ${m.change === 'pass→fail' ? '✗ pass → FAIL' : '✓ FAIL → pass'}  ${m.rule}  (${path.basename(m.sloFile)})`,
      kind: m.change === 'pass→fail' ? 'regress' : 'fixed',
    });
  }
  const one = c.slo.filter((m) => m.change === 'only-a' || m.change === 'only-b');
  for (const m of one) out.push({ text: `  only in ${m.change === 'only-a' ? 'A' : 'B'}: ${m.rule} (${m.a ?? m.b})`, kind: 'same' });
  return out;
}

export function comparisonMarkdown(c: Comparison): string {
  const rows = comparisonRows(c);
  const esc = (s: string): string => s.replace(/\|/g, '\\|');
  const [head, ...body] = rows;
  const bold = (m: MetricComparison, s: string): string => (m.verdict === 'worse' ? `**${s}**` : s);
  return [
    `# Comparison: ${c.b.name} (B) against ${c.a.name} (A)`,
    '',
    `| ${head!.map(esc).join(' | ')} |`,
    `|---|---:|---:|---:|---|`,
    ...body.map((r, i) => `| ${r.map((x, j) => (j === 4 ? bold(c.metrics[i]!, esc(x)) : esc(x))).join(' | ')} |`),
    '',
    ...sloLines(c).map((l) => (l.text.startsWith('  ') ? `- ${l.text.trim()}` : l.text)),
    '',
  ].join('\n');
}

/** Write compare.md and compare.json; returns the folder. */
export function writeComparison(c: Comparison, outDir?: string): { outDir: string; files: string[] } {
  const dir = outDir ?? defaultOutDir('compare', [c.a.name, c.b.name]);
  fs.mkdirSync(dir, { recursive: true });
  const md = path.join(dir, 'compare.md');
  const json = path.join(dir, 'compare.json');
  fs.writeFileSync(md, comparisonMarkdown(c));
  fs.writeFileSync(json, `${JSON.stringify(c, null, 2)}\n`);
  return { outDir: dir, files: [md, json] };
}
