/**
 * SLO files: YAML, validated once, every error naming file, line and rule.
 *
 * Grammar (a file is one YAML mapping; every key optional except that one of `rules` / `per_request`
 * must be present):
 *
 *   name: <text>                      # shown in reports (default: the file name)
 *   description: <text>
 *   reference_machine: <machine>      # slowdown reference when the command names none (default dgx-a100)
 *   rules:                            # run-level rules, all must hold
 *     - <metric> <op> <limit>
 *   per_request:                      # limits each request must meet to count towards goodput
 *     - <request-metric> <op> <limit>
 *
 *   op        := '<' | '<=' | '>' | '>='
 *   metric    := <dist>.<stat> | <scalar>
 *   dist      := ttft | tpot | tbt | e2e | lag | max_stall | queue | prefill | kv_transfer | decode_wait | decode
 *              | slowdown.ttft | slowdown.tpot | slowdown.tbt | slowdown.e2e
 *   stat      := p50 | p90 | p95 | p99 | p99.9 | max | mean | count
 *   scalar    := goodput (req/s) | goodput_fraction | error_rate | output_mismatches
 *              | throughput.requests | throughput.input_tokens | throughput.output_tokens (per s)
 *              | energy_per_request | energy_per_token (J) | cost_per_mtok ($ per 1M output tokens)
 *   request-metric := ttft | tpot | tbt | e2e | lag | max_stall | slowdown.ttft | slowdown.tpot | slowdown.tbt | slowdown.e2e
 *   limit     := <number><unit> | baseline [ ('*' | '+' | '-') <number><unit> ]
 *   unit      := s | ms | us | µs   (times: required)  ·  % (fractions: optional)  ·  x (slowdowns: optional)
 *   A limit is finite and ≥ 0; a fraction's is at most 1 (100%); a baseline factor is ≥ 0, an offset ≥ 0
 *   (its sign is the operator).
 *
 * Examples: `ttft.p99 <= 2s`, `tbt.p99 < 100ms`, `slowdown.ttft.p90 < 3`, `goodput_fraction >= 90%`,
 * `e2e.p99 <= baseline * 1.05` (needs `gate --baseline RUN`), per request `tpot <= 100ms`.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Node } from 'yaml';
import { yaml } from '../config/yaml.js';
import { SloSpecError } from '../errors.js';
import { WORKLOADS_DIR } from '../paths.js';
import { STAT_NAMES, type StatName } from './histogram.js';

export type SloOp = '<' | '<=' | '>' | '>=';
export type MetricUnit = 'time' | 'ratio' | 'fraction' | 'rate' | 'count' | 'joule' | 'dollar';

/** Distribution metrics (`<name>.<stat>`) and their units. */
export const DIST_METRICS: Readonly<Record<string, MetricUnit>> = {
  ttft: 'time',
  tpot: 'time',
  tbt: 'time',
  e2e: 'time',
  lag: 'time',
  max_stall: 'time',
  queue: 'time',
  prefill: 'time',
  kv_transfer: 'time',
  decode_wait: 'time',
  decode: 'time',
  'slowdown.ttft': 'ratio',
  'slowdown.tpot': 'ratio',
  'slowdown.tbt': 'ratio',
  'slowdown.e2e': 'ratio',
};

/** Scalar run-level metrics and their units. */
export const SCALAR_METRICS: Readonly<Record<string, MetricUnit>> = {
  goodput: 'rate',
  goodput_fraction: 'fraction',
  error_rate: 'fraction',
  output_mismatches: 'count',
  'throughput.requests': 'rate',
  'throughput.input_tokens': 'rate',
  'throughput.output_tokens': 'rate',
  energy_per_request: 'joule',
  energy_per_token: 'joule',
  cost_per_mtok: 'dollar',
};

/** Per-request metrics usable under `per_request:`: the distributions every request has a value of. */
export const REQUEST_METRICS: Readonly<Record<string, MetricUnit>> = Object.fromEntries(
  ['ttft', 'tpot', 'tbt', 'e2e', 'lag', 'max_stall', 'slowdown.ttft', 'slowdown.tpot', 'slowdown.tbt', 'slowdown.e2e'].map((k) => [k, DIST_METRICS[k]!]),
);

export type SloLimit = { readonly kind: 'value'; readonly value: number } | { readonly kind: 'baseline'; readonly factor: number; readonly offset: number };

export interface SloRule {
  /** The rule as written. */
  readonly text: string;
  readonly line: number;
  /** Full metric name, e.g. `ttft.p99`, `slowdown.ttft.p90`, `goodput`. */
  readonly metric: string;
  /** Distribution or scalar name without the stat (`ttft`, `slowdown.ttft`, `goodput`). */
  readonly base: string;
  readonly stat?: StatName;
  readonly unit: MetricUnit;
  readonly op: SloOp;
  readonly limit: SloLimit;
}

export interface PerRequestRule {
  readonly text: string;
  readonly line: number;
  readonly metric: string;
  readonly unit: MetricUnit;
  readonly op: SloOp;
  readonly limit: number;
}

export interface SloSpec {
  readonly file: string;
  readonly name: string;
  readonly description?: string;
  readonly referenceMachine?: string;
  readonly rules: readonly SloRule[];
  readonly perRequest: readonly PerRequestRule[];
}

export function compare(value: number, op: SloOp, limit: number): boolean {
  switch (op) {
    case '<':
      return value < limit;
    case '<=':
      return value <= limit;
    case '>':
      return value > limit;
    case '>=':
      return value >= limit;
  }
}

const TIME_UNITS: Record<string, number> = { s: 1, ms: 1e-3, us: 1e-6, µs: 1e-6, μs: 1e-6 };

/** Parse `<number><unit>` for a metric of `unit`; throws a plain message (the caller adds file/line/rule). */
function parseQuantity(text: string, unit: MetricUnit): number {
  const m = /^([+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)\s*([a-zµμ%$×]*)$/i.exec(text.trim());
  if (!m) throw new Error(`'${text}' is not a number with an optional unit`);
  const n = Number(m[1]);
  const u = m[2]!;
  if (unit === 'time') {
    if (u === '') throw new Error(`time limit '${text}' needs a unit (s, ms, us)`);
    const f = TIME_UNITS[u];
    if (f === undefined) throw new Error(`unknown time unit '${u}' (use s, ms, us)`);
    return n * f;
  }
  if (u === '') return n;
  if (unit === 'fraction' && u === '%') return n / 100;
  if (unit === 'ratio' && (u === 'x' || u === '×')) return n;
  throw new Error(`unit '${u}' does not fit this metric (${unitHelp(unit)})`);
}

function unitHelp(unit: MetricUnit): string {
  switch (unit) {
    case 'time':
      return 'a time: s, ms, us';
    case 'fraction':
      return 'a fraction: 0.9 or 90%';
    case 'ratio':
      return 'a ratio: 3 or 3x';
    case 'rate':
      return 'per second, no unit';
    case 'count':
      return 'a count, no unit';
    case 'joule':
      return 'joules, no unit';
    case 'dollar':
      return 'dollars, no unit';
  }
}

const UNIT_NOUN: Record<MetricUnit, string> = {
  time: 'a time',
  ratio: 'a ratio',
  fraction: 'a fraction',
  rate: 'a rate',
  count: 'a count',
  joule: 'an energy',
  dollar: 'a cost',
};

/**
 * The values a limit of `unit` can take: every metric here is ≥ 0, and a fraction is at most 1 (100%);
 * a limit outside can never or always hold, which is a mistake in the file, not a rule. Throws a plain message.
 */
function checkLimit(value: number, unit: MetricUnit, text: string): number {
  if (!Number.isFinite(value)) throw new Error(`limit '${text.trim()}' is not a finite number`);
  if (value < 0) throw new Error(`limit '${text.trim()}' is negative: ${UNIT_NOUN[unit]} is never below 0`);
  if (unit === 'fraction' && value > 1) throw new Error(`limit '${text.trim()}' is above 100%: a fraction is from 0 to 1 (0% to 100%)`);
  return value;
}

const RULE_RE = /^\s*([a-z_][a-z0-9_.]*)\s*(<=|>=|<|>)\s*(.+?)\s*$/i;

function resolveMetric(name: string): { base: string; stat?: StatName; unit: MetricUnit } {
  if (SCALAR_METRICS[name] !== undefined) return { base: name, unit: SCALAR_METRICS[name]! };
  for (const statName of Object.keys(STAT_NAMES) as StatName[]) {
    if (name.endsWith(`.${statName}`)) {
      const base = name.slice(0, -statName.length - 1);
      const unit = DIST_METRICS[base];
      if (unit !== undefined) return { base, stat: statName, unit: statName === 'count' ? 'count' : unit };
    }
  }
  if (DIST_METRICS[name] !== undefined) {
    throw new Error(`metric '${name}' needs a statistic: ${name}.p99 (one of ${Object.keys(STAT_NAMES).join(', ')})`);
  }
  throw new Error(
    `unknown metric '${name}' (known: ${Object.keys(DIST_METRICS)
      .map((d) => `${d}.<stat>`)
      .join(', ')}, ${Object.keys(SCALAR_METRICS).join(', ')})`,
  );
}

/** Parse one run-level rule (`ttft.p99 <= 2s`). Throws Error with a plain message. */
export function parseRule(text: string, line = 0): SloRule {
  const m = RULE_RE.exec(text);
  if (!m) throw new Error(`expected '<metric> <op> <limit>', e.g. 'ttft.p99 <= 2s'`);
  const metric = m[1]!.toLowerCase();
  const op = m[2] as SloOp;
  const { base, stat, unit } = resolveMetric(metric);
  const rhs = m[3]!;
  let limit: SloLimit;
  const b = /^baseline\s*(?:([*+-])\s*(.+))?$/i.exec(rhs);
  if (b) {
    if (!b[1]) limit = { kind: 'baseline', factor: 1, offset: 0 };
    else if (b[1] === '*') limit = { kind: 'baseline', factor: checkLimit(parseQuantity(b[2]!, 'ratio'), 'ratio', b[2]!), offset: 0 };
    else {
      // An offset's sign is the operator: `baseline - 5ms`, never `baseline + -5ms`.
      const q = parseQuantity(b[2]!, unit);
      if (!Number.isFinite(q) || q < 0)
        throw new Error(`offset '${b[2]!.trim()}' must be a finite number ≥ 0 (write the sign as 'baseline + X' or 'baseline - X')`);
      limit = { kind: 'baseline', factor: 1, offset: b[1] === '+' ? q : -q };
    }
  } else {
    limit = { kind: 'value', value: checkLimit(parseQuantity(rhs, unit), unit, rhs) };
  }
  return { text: text.trim(), line, metric, base, ...(stat === undefined ? {} : { stat }), unit, op, limit };
}

/** Parse one per-request limit (`tpot <= 100ms`). Throws Error with a plain message. */
export function parsePerRequestRule(text: string, line = 0): PerRequestRule {
  const m = RULE_RE.exec(text);
  if (!m) throw new Error(`expected '<metric> <op> <limit>', e.g. 'ttft <= 2s'`);
  const metric = m[1]!.toLowerCase();
  const unit = REQUEST_METRICS[metric];
  if (unit === undefined) {
    throw new Error(`unknown per-request metric '${metric}' (known: ${Object.keys(REQUEST_METRICS).join(', ')})`);
  }
  if (/^baseline/i.test(m[3]!)) throw new Error('per-request limits cannot refer to the baseline');
  return { text: text.trim(), line, metric, unit, op: m[2] as SloOp, limit: checkLimit(parseQuantity(m[3]!, unit), unit, m[3]!) };
}

const TOP_KEYS = new Set(['name', 'description', 'reference_machine', 'rules', 'per_request']);

/** Parse and validate SLO YAML text; `file` is used in messages. */
export function parseSlo(text: string, file: string): SloSpec {
  // The YAML parser loads here, at the first SLO file, not at every command's start-up.
  const { LineCounter, isMap, isScalar, isSeq, parseDocument } = yaml();
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false });
  const lineOf = (n: Node | null | undefined): number => (n?.range ? lc.linePos(n.range[0]).line : 0);
  const fail = (line: number, msg: string, hint?: string): never => {
    throw new SloSpecError(`${file}:${line}: ${msg}`, hint);
  };
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const lines = text.split(/\r?\n/);
    let line = e.linePos?.[0].line ?? lc.linePos(e.pos[0]).line;
    // An error reported past the content (an unterminated quote or bracket) belongs to the last written line.
    while (line > 1 && (lines[line - 1] ?? '').trim() === '') line--;
    const what = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    fail(line, `YAML syntax error: ${what} (in '${(lines[line - 1] ?? '').trim()}')`);
  }
  const root = doc.contents;
  if (!isMap(root)) fail(lineOf(root as Node | null) || 1, 'an SLO file is a mapping with `rules:` and/or `per_request:`');
  const map = root as import('yaml').YAMLMap;
  let name = path.basename(file).replace(/\.ya?ml$/i, '');
  let description: string | undefined;
  let referenceMachine: string | undefined;
  const rules: SloRule[] = [];
  const perRequest: PerRequestRule[] = [];
  for (const pair of map.items) {
    const keyNode = pair.key as Node;
    const key = isScalar(keyNode) ? String(keyNode.value) : '';
    const kLine = lineOf(keyNode);
    if (!TOP_KEYS.has(key)) fail(kLine, `unknown key '${key}' (known: ${[...TOP_KEYS].join(', ')})`);
    const v = pair.value as Node | null;
    if (key === 'name' || key === 'description' || key === 'reference_machine') {
      if (!isScalar(v) || typeof v.value !== 'string' || v.value.trim() === '') fail(kLine, `'${key}' must be a text`);
      const s = String((v as import('yaml').Scalar).value);
      if (key === 'name') name = s;
      else if (key === 'description') description = s;
      else referenceMachine = s;
      continue;
    }
    if (v === null || (isScalar(v) && v.value === null)) continue; // empty list
    if (!isSeq(v)) fail(kLine, `'${key}' must be a list of rules like '- ttft.p99 <= 2s'`);
    for (const item of (v as import('yaml').YAMLSeq).items as Node[]) {
      const line = lineOf(item);
      if (!isScalar(item) || typeof item.value !== 'string') {
        fail(line, `each entry of '${key}' is one rule written as text, e.g. '- ttft.p99 <= 2s'`);
      }
      const ruleText = String((item as import('yaml').Scalar).value);
      try {
        if (key === 'rules') rules.push(parseRule(ruleText, line));
        else perRequest.push(parsePerRequestRule(ruleText, line));
      } catch (e) {
        fail(line, `rule '${ruleText.trim()}': ${(e as Error).message}`);
      }
    }
  }
  if (rules.length === 0 && perRequest.length === 0) fail(1, 'no rules: add a `rules:` or `per_request:` list');
  const gp = rules.find((r) => r.base === 'goodput' || r.base === 'goodput_fraction');
  if (gp && perRequest.length === 0) {
    fail(gp.line, `rule '${gp.text}': goodput needs per-request limits`, "add a 'per_request:' list, e.g. '- ttft <= 2s'");
  }
  return {
    file,
    name,
    ...(description === undefined ? {} : { description }),
    ...(referenceMachine === undefined ? {} : { referenceMachine }),
    rules,
    perRequest,
  };
}

/** Folder of the bundled SLO files. */
export const SLO_DIR = path.join(WORKLOADS_DIR, 'slo');

/** Names of the bundled SLO files (`--slo <name>`). */
export function listSloNames(): string[] {
  try {
    return fs
      .readdirSync(SLO_DIR)
      .filter((f) => /\.ya?ml$/i.test(f))
      .map((f) => f.replace(/\.ya?ml$/i, ''))
      .sort();
  } catch {
    return [];
  }
}

/** Resolve `--slo` (a path, or the bare name of a bundled SLO file) to a file path. */
export function resolveSloPath(nameOrPath: string): string {
  if (fs.existsSync(nameOrPath) && fs.statSync(nameOrPath).isFile()) return nameOrPath;
  if (/^[\w-]+$/.test(nameOrPath)) {
    for (const ext of ['.yaml', '.yml']) {
      const p = path.join(SLO_DIR, nameOrPath + ext);
      if (fs.existsSync(p)) return p;
    }
  }
  throw new SloSpecError(`--slo: no SLO file '${nameOrPath}'`, `give a path or a bundled name: ${listSloNames().join(', ')}`);
}

/** Load an SLO file by path or bundled name. */
export function loadSlo(nameOrPath: string): SloSpec {
  const file = resolveSloPath(nameOrPath);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new SloSpecError(`${file}: cannot read: ${(e as Error).message}`);
  }
  return parseSlo(text, file);
}
