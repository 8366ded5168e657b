/**
 * The release gate: evaluate every rule of an SLO file against a run (and, for `baseline` rules, a
 * baseline run), with verdicts as data; JUnit XML and Markdown renderings for CI.
 *
 * A run that cannot be judged (status running/interrupted/failed, no ok requests, flagged for schedule
 * lag unless `allowLag`) is an `UnusableRunError` (exit 3), not a failed SLO.
 */
import { ExitCode, SloSpecError, SplitbenchError } from '../errors.js';
import { fmtNum, fmtSeconds } from './format.js';
import { STAT_NAMES, type PercentileMethod } from './histogram.js';
import { findRun, type RunInfo, type StoreLike } from './rows.js';
import { compare, type MetricUnit, type SloRule, type SloSpec } from './slo.js';
import type { SlowdownReference } from './slowdown.js';
import { summarizeRun, type RunSummary } from './summary.js';

export class UnusableRunError extends SplitbenchError {
  constructor(message: string, hint?: string) {
    super('SB_UNUSABLE_RUN', message, { ...(hint === undefined ? {} : { hint }), exitCode: ExitCode.unusableRun });
  }
}

export interface RuleVerdict {
  readonly rule: string;
  readonly line: number;
  readonly metric: string;
  readonly unit: MetricUnit;
  readonly op: string;
  /** The run's value (seconds for times); undefined when the run has no data for the metric. */
  readonly value: number | undefined;
  /** The resolved limit (baseline rules: baseline value × factor + offset). */
  readonly limit: number | undefined;
  readonly passed: boolean;
  readonly baselineValue?: number;
  readonly detail?: string;
}

export interface GateResult {
  readonly sloFile: string;
  readonly sloName: string;
  readonly run: { readonly id: number; readonly name: string };
  readonly baseline?: { readonly id: number; readonly name: string };
  readonly passed: boolean;
  readonly verdicts: readonly RuleVerdict[];
  readonly failed: readonly string[];
  /** The rule the run's percentiles were read with (exact, over the stored values). */
  readonly percentileMethod: PercentileMethod;
  readonly summary: RunSummary;
}

export interface GateOptions {
  readonly slo: SloSpec;
  readonly run?: string | number;
  readonly baseline?: string | number;
  readonly allowLag?: boolean;
  /** Judge a saturated run (achieved < 95% of offered, or a growing queue) instead of refusing it. */
  readonly allowSaturated?: boolean;
  /** Judge a live run flagged distorted by its self-check anyway. */
  readonly allowDistorted?: boolean;
  /** Slowdown reference for the run (and the baseline); required when a rule uses slowdown. */
  readonly reference?: SlowdownReference;
  /** How percentiles are read off the stored values (default `linear`). */
  readonly percentileMethod?: PercentileMethod;
}

/** Does the SLO file need a slowdown reference (a slowdown rule or per-request limit)? */
export function sloNeedsReference(slo: SloSpec): boolean {
  return slo.rules.some((r) => r.base.startsWith('slowdown.')) || slo.perRequest.some((r) => r.metric.startsWith('slowdown.'));
}

/** The value of a rule's metric in a summary (seconds for times), or undefined when absent. */
export function metricValue(s: RunSummary, rule: Pick<SloRule, 'base' | 'stat'>): number | undefined {
  const { base, stat } = rule;
  if (stat !== undefined) {
    const field = STAT_NAMES[stat];
    const st = base.startsWith('slowdown.')
      ? s.slowdown?.[base.slice('slowdown.'.length) as 'ttft' | 'tpot' | 'tbt' | 'e2e']
      : base in s.latencyS
        ? s.latencyS[base as keyof RunSummary['latencyS']]
        : s.phasesS[base as keyof RunSummary['phasesS']];
    return st?.[field];
  }
  switch (base) {
    case 'goodput':
      return s.goodput?.requestsPerS;
    case 'goodput_fraction':
      return s.goodput?.fraction;
    case 'error_rate':
      return s.errorRate;
    case 'output_mismatches':
      return s.outputMismatches;
    case 'throughput.requests':
      return s.throughput.requestsPerS;
    case 'throughput.input_tokens':
      return s.throughput.inputTokensPerS;
    case 'throughput.output_tokens':
      return s.throughput.outputTokensPerS;
    case 'energy_per_request':
      return s.power?.energyPerRequestJ;
    case 'energy_per_token':
      return s.power?.energyPerOutputTokenJ;
    case 'cost_per_mtok':
      return s.cost?.dollarsPerMOutputTokens;
    default:
      return undefined;
  }
}

/** A value for people, in the metric's unit. */
export function fmtValue(v: number | undefined, unit: MetricUnit): string {
  if (v === undefined) return 'n/a';
  switch (unit) {
    case 'time':
      return fmtSeconds(v) ?? 'n/a';
    case 'fraction':
      return `${fmtNum(v * 100, 2)}%`;
    case 'ratio':
      return `${fmtNum(v, 3)}x`;
    case 'rate':
      return `${fmtNum(v, 3)}/s`;
    case 'count':
      return String(v);
    case 'joule':
      return `${fmtNum(v, 3)} J`;
    case 'dollar':
      return `$${fmtNum(v, 4)}`;
  }
}

/** Why a run cannot be judged, or undefined when it can. */
export function unusableReason(run: RunInfo, s: RunSummary, allowLag: boolean, allowSaturated = false, allowDistorted = false): string | undefined {
  if (run.status !== 'completed') return `its status is '${run.status}'`;
  if (s.counts.ok === 0) return 'it has no ok requests';
  if (s.saturated && !allowSaturated) return `it is saturated (${s.saturated}): it did not sustain its offered load`;
  if (run.distorted && !allowDistorted) return `it is distorted (${run.distortedReason ?? 'no reason recorded'}): this machine distorted the live run`;
  if (run.lagFlagged && !allowLag) {
    return `it is flagged for schedule lag (lag p99 ${fmtSeconds(run.lagP99S ?? s.latencyS.lag?.p99) ?? 'n/a'}): the client fell behind the trace`;
  }
  return undefined;
}

/** Evaluate every rule of `opts.slo` against the run. Throws UnusableRunError for a run that cannot be judged. */
export function evaluateGate(store: StoreLike, opts: GateOptions): GateResult {
  const { slo } = opts;
  const needsBaseline = slo.rules.filter((r) => r.limit.kind === 'baseline');
  if (needsBaseline.length > 0 && opts.baseline === undefined) {
    const r = needsBaseline[0]!;
    throw new SloSpecError(`${slo.file}:${r.line}: rule '${r.text}' compares with a baseline run`, 'give --baseline RUN');
  }
  if (sloNeedsReference(slo) && !opts.reference) {
    throw new SloSpecError(`${slo.file}: slowdown rules need a reference`, 'give --reference-machine or --reference-run');
  }
  const run = findRun(store, opts.run);
  const sumOpts = {
    slo,
    ...(opts.reference ? { reference: opts.reference } : {}),
    ...(opts.percentileMethod === undefined ? {} : { percentileMethod: opts.percentileMethod }),
  };
  const summary = summarizeRun(store, run.id, sumOpts);
  const why = unusableReason(run, summary, opts.allowLag ?? false, opts.allowSaturated ?? false, opts.allowDistorted ?? false);
  if (why) {
    throw new UnusableRunError(
      `run ${run.id} (${run.name}) cannot be judged: ${why}`,
      why.startsWith('it is saturated')
        ? 'offer a rate the deployment sustains, or pass --allow-saturated to judge it anyway'
        : why.startsWith('it is distorted')
          ? 'rerun at a lower --time-scale on a quieter machine, or pass --allow-distorted to judge it anyway'
          : why.includes('lag')
            ? 'rerun with more client capacity, or pass --allow-lag to judge it anyway'
            : undefined,
    );
  }
  let baseRun: RunInfo | undefined;
  let baseSummary: RunSummary | undefined;
  if (opts.baseline !== undefined) {
    baseRun = findRun(store, opts.baseline);
    baseSummary = summarizeRun(store, baseRun.id, sumOpts);
    const bwhy = unusableReason(baseRun, baseSummary, opts.allowLag ?? false, opts.allowSaturated ?? false, opts.allowDistorted ?? false);
    if (bwhy) throw new UnusableRunError(`baseline run ${baseRun.id} (${baseRun.name}) cannot be used: ${bwhy}`);
  }
  const verdicts: RuleVerdict[] = slo.rules.map((rule) => {
    const value = metricValue(summary, rule);
    let limit: number | undefined;
    let baselineValue: number | undefined;
    let detail: string | undefined;
    if (rule.limit.kind === 'value') limit = rule.limit.value;
    else {
      baselineValue = metricValue(baseSummary!, rule);
      if (baselineValue === undefined) detail = `baseline run ${baseRun!.id} has no data for ${rule.metric}`;
      else {
        limit = baselineValue * rule.limit.factor + rule.limit.offset;
        detail = `baseline ${fmtValue(baselineValue, rule.unit)}${rule.limit.factor !== 1 ? ` × ${rule.limit.factor}` : ''}${
          rule.limit.offset !== 0 ? ` ${rule.limit.offset > 0 ? '+' : '−'} ${fmtValue(Math.abs(rule.limit.offset), rule.unit)}` : ''
        }`;
      }
    }
    if (value === undefined) detail ??= `the run has no data for ${rule.metric}`;
    const passed = value !== undefined && limit !== undefined && compare(value, rule.op, limit);
    return {
      rule: rule.text,
      line: rule.line,
      metric: rule.metric,
      unit: rule.unit,
      op: rule.op,
      value,
      limit,
      passed,
      ...(baselineValue === undefined ? {} : { baselineValue }),
      ...(detail === undefined ? {} : { detail }),
    };
  });
  const failed = verdicts.filter((v) => !v.passed).map((v) => v.rule);
  return {
    sloFile: slo.file,
    sloName: slo.name,
    run: { id: run.id, name: run.name },
    ...(baseRun ? { baseline: { id: baseRun.id, name: baseRun.name } } : {}),
    passed: failed.length === 0,
    verdicts,
    failed,
    percentileMethod: summary.percentileMethod,
    summary,
  };
}

/** Rows for `slo_results` (Store.addSloResults). */
export function sloResultRows(g: GateResult): {
  sloFile: string;
  rule: string;
  metric: string;
  value: number | null;
  limitValue: number | null;
  op: string;
  passed: boolean;
  baselineRunId: number | null;
  detail: string | null;
}[] {
  return g.verdicts.map((v) => ({
    sloFile: g.sloFile,
    rule: v.rule,
    metric: v.metric,
    value: v.value ?? null,
    limitValue: v.limit ?? null,
    op: v.op,
    passed: v.passed,
    baselineRunId: g.baseline?.id ?? null,
    detail: v.detail ?? null,
  }));
}

/** Table rows (header first) for the terminal. */
export function gateTableRows(g: GateResult): string[][] {
  return [
    ['rule', 'value', 'limit', 'result'],
    ...g.verdicts.map((v) => [
      v.rule,
      fmtValue(v.value, v.unit),
      `${v.op} ${fmtValue(v.limit, v.unit)}`,
      v.passed ? 'pass' : `FAIL${v.detail && v.value === undefined ? ` (${v.detail})` : ''}`,
    ]),
  ];
}

export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** JUnit XML: one testcase per rule, a `<failure>` for each failed rule. */
export function toJunit(g: GateResult): string {
  const n = g.verdicts.length;
  const f = g.failed.length;
  const suite = `slo ${g.sloName}: run ${g.run.id} (${g.run.name})${g.baseline ? ` vs baseline ${g.baseline.id} (${g.baseline.name})` : ''}`;
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="splitbench gate" tests="${n}" failures="${f}" errors="0">`,
    `  <testsuite name="${escapeXml(suite)}" tests="${n}" failures="${f}" errors="0" skipped="0">`,
  ];
  for (const v of g.verdicts) {
    const name = escapeXml(v.rule);
    const cls = escapeXml(`splitbench.slo.${g.sloName}`);
    if (v.passed) {
      lines.push(`    <testcase classname="${cls}" name="${name}"/>`);
    } else {
      const msg = `${v.metric} = ${fmtValue(v.value, v.unit)}, limit ${v.op} ${fmtValue(v.limit, v.unit)}${v.detail ? ` (${v.detail})` : ''}`;
      lines.push(`    <testcase classname="${cls}" name="${name}">`);
      lines.push(`      <failure type="slo" message="${escapeXml(msg)}">${escapeXml(`${g.sloFile}:${v.line}: ${msg}`)}</failure>`);
      lines.push('    </testcase>');
    }
  }
  lines.push('  </testsuite>', '</testsuites>', '');
  return lines.join('\n');
}

/**
 * JUnit XML for a run that cannot be judged: one testcase with an `<error>` naming why, so a CI step that
 * collects the file reports the reason instead of "file not found".
 */
export function unusableJunit(sloName: string, err: Error): string {
  const cls = escapeXml(`splitbench.slo.${sloName}`);
  const msg = escapeXml(err.message);
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<testsuites name="splitbench gate" tests="1" failures="0" errors="1">',
    `  <testsuite name="${escapeXml(`slo ${sloName}`)}" tests="1" failures="0" errors="1" skipped="0">`,
    `    <testcase classname="${cls}" name="the run can be judged">`,
    `      <error type="${err instanceof UnusableRunError ? 'unusable-run' : 'gate-error'}" message="${msg}">${msg}</error>`,
    '    </testcase>',
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}

/** A Markdown table for a CI job summary. */
export function toMarkdown(g: GateResult): string {
  const esc = (s: string): string => s.replace(/\|/g, '\\|');
  const head = `### SLO gate: ${g.passed ? 'PASS' : 'FAIL'} — run ${g.run.id} (${esc(g.run.name)}) against \`${esc(g.sloName)}\`${
    g.baseline ? ` (baseline run ${g.baseline.id}, ${esc(g.baseline.name)})` : ''
  }`;
  const rows = g.verdicts.map(
    (v) => `| \`${esc(v.rule)}\` | ${esc(fmtValue(v.value, v.unit))} | ${esc(`${v.op} ${fmtValue(v.limit, v.unit)}`)} | ${v.passed ? '✅ pass' : '❌ fail'} |`,
  );
  return [head, '', '| rule | value | limit | result |', '|---|---|---|---|', ...rows, ''].join('\n');
}
