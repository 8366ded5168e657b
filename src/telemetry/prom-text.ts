/**
 * A small parser of the Prometheus text exposition format (version 0.0.4; the OpenMetrics text form parses too):
 *
 *   # HELP name text            (help text; `\\` and `\n` escapes)
 *   # TYPE name counter|gauge|histogram|summary|untyped   (OpenMetrics: also info, stateset, gaugehistogram, unknown)
 *   # any other comment         (ignored; `# EOF` ends an OpenMetrics exposition)
 *   name{label="value",...} value [timestamp_ms]
 *
 * Label values may contain `\\`, `\"` and `\n` escapes (and any other character, `,` and `}` included); a trailing
 * comma inside the braces is allowed. Values are floats, `NaN`, `+Inf`, `-Inf` (also `Inf`, any case). Names may
 * contain `:` (vLLM's `vllm:*`). A malformed line throws a PromParseError naming the line.
 */

export type PromType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped' | 'info' | 'stateset' | 'gaugehistogram' | 'unknown';

export interface PromSample {
  /** Series name as written (a histogram's `_bucket`/`_sum`/`_count` keep their suffix). */
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
  /** Milliseconds since the epoch, when the line carried a timestamp. */
  readonly timestampMs?: number;
}

export interface PromFamily {
  readonly name: string;
  readonly type: PromType;
  readonly help?: string;
}

export interface PromExposition {
  readonly samples: readonly PromSample[];
  /** Metric families declared by `# TYPE` / `# HELP`, by family name. */
  readonly families: ReadonlyMap<string, PromFamily>;
}

export class PromParseError extends Error {
  readonly line: number;
  constructor(line: number, message: string) {
    super(`line ${line}: ${message}`);
    this.line = line;
  }
}

const isAlpha = (c: number): boolean => (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95; // a-z A-Z _
const isDigit = (c: number): boolean => c >= 48 && c <= 57;
/** A set of characters (one test per character). */
interface CharClass {
  test(ch: string): boolean;
}
const NAME_START: CharClass = { test: (ch: string): boolean => isAlpha(ch.charCodeAt(0)) || ch === ':' };
const NAME_CHAR: CharClass = {
  test: (ch: string): boolean => {
    const c = ch.charCodeAt(0);
    return isAlpha(c) || isDigit(c) || c === 58;
  },
};
const LABEL_START: CharClass = { test: (ch: string): boolean => isAlpha(ch.charCodeAt(0)) };
const LABEL_CHAR: CharClass = {
  test: (ch: string): boolean => {
    const c = ch.charCodeAt(0);
    return isAlpha(c) || isDigit(c);
  },
};
const TYPES = new Set<PromType>(['counter', 'gauge', 'histogram', 'summary', 'untyped', 'info', 'stateset', 'gaugehistogram', 'unknown']);

const FLOAT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** Parse a Prometheus value token: float, NaN, ±Inf. Undefined when it is not one. */
export function parsePromValue(s: string): number | undefined {
  const c = s.charCodeAt(0);
  if (c >= 48 && c <= 57 && FLOAT.test(s)) return Number(s);
  const l = s.toLowerCase();
  if (l === 'nan') return NaN;
  if (l === '+inf' || l === 'inf' || l === '+infinity' || l === 'infinity') return Infinity;
  if (l === '-inf' || l === '-infinity') return -Infinity;
  const v = Number(s);
  if (!Number.isNaN(v) && s !== '' && FLOAT.test(s)) return v;
  if (!/^[+-]?0[xX][0-9a-fA-F]+$/.test(s)) return undefined;
  return Number.isNaN(v) ? undefined : v;
}

function unescapeHelp(s: string): string {
  return s.replace(/\\(\\|n)/g, (_m, c: string) => (c === 'n' ? '\n' : '\\'));
}

/** Parse a whole exposition. */
export function parsePromText(text: string): PromExposition {
  const samples: PromSample[] = [];
  const families = new Map<string, PromFamily>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    let line = lines[i]!;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    const trimmed = line.trim();
    if (trimmed === '') continue;
    if (trimmed.startsWith('#')) {
      const m = /^#\s*(HELP|TYPE)\s+(\S+)(?:\s+(.*))?$/.exec(trimmed);
      if (!m) {
        if (/^#\s*EOF\s*$/.test(trimmed)) break;
        continue; // a plain comment
      }
      const [, kind, name, rest = ''] = m;
      const prev = families.get(name!);
      if (kind === 'TYPE') {
        const t = rest.trim().toLowerCase() as PromType;
        if (!TYPES.has(t)) throw new PromParseError(lineNo, `unknown metric type '${rest.trim()}' for ${name}`);
        families.set(name!, { name: name!, type: t, ...(prev?.help !== undefined ? { help: prev.help } : {}) });
      } else {
        families.set(name!, { name: name!, type: prev?.type ?? 'untyped', help: unescapeHelp(rest) });
      }
      continue;
    }
    samples.push(parseSampleLine(line, lineNo));
  }
  return { samples, families };
}

function parseSampleLine(line: string, lineNo: number): PromSample {
  let i = skipBlanks(line, 0);
  let name = '';
  const labels: Record<string, string> = {};
  if (line[i] === '{') {
    // OpenMetrics 2 style: {"quoted.name", label="v"}
  } else {
    const start = i;
    i = nameEnd(line, i, NAME_START, NAME_CHAR, 'a metric name', lineNo);
    name = line.slice(start, i);
  }
  if (line[i] === '{') {
    i++;
    for (;;) {
      i = skipBlanks(line, i);
      if (line[i] === '}') {
        i++;
        break;
      }
      let key: string;
      if (line[i] === '"') {
        const r = readQuoted(line, i, lineNo);
        key = r.value;
        i = r.end;
        // A quoted string without `=` is the metric name (OpenMetrics quoted names).
        i = skipBlanks(line, i);
        if (line[i] !== '=') {
          if (name !== '') throw new PromParseError(lineNo, 'a quoted metric name after the name');
          name = key;
          if (line[i] === ',') i++;
          continue;
        }
      } else {
        const start = i;
        i = nameEnd(line, i, LABEL_START, LABEL_CHAR, 'a label name', lineNo);
        key = line.slice(start, i);
        i = skipBlanks(line, i);
      }
      if (line[i] !== '=') throw new PromParseError(lineNo, `expected '=' after label ${key}`);
      i++;
      i = skipBlanks(line, i);
      if (line[i] !== '"') throw new PromParseError(lineNo, `expected a quoted value for label ${key}`);
      const r = readQuoted(line, i, lineNo);
      labels[key] = r.value;
      i = r.end;
      i = skipBlanks(line, i);
      if (line[i] === ',') {
        i++;
        continue;
      }
      if (line[i] === '}') {
        i++;
        break;
      }
      throw new PromParseError(lineNo, `expected ',' or '}' after label ${key}`);
    }
  }
  if (name === '') throw new PromParseError(lineNo, 'a sample without a metric name');
  const rest = line
    .slice(i)
    .trim()
    .split(/[ \t]+/);
  if (rest.length === 0 || rest[0] === '') throw new PromParseError(lineNo, `no value for ${name}`);
  // OpenMetrics exemplars follow ' # '; drop them.
  const hash = rest.indexOf('#');
  const parts = hash >= 0 ? rest.slice(0, hash) : rest;
  const value = parsePromValue(parts[0]!);
  if (value === undefined) throw new PromParseError(lineNo, `bad value '${parts[0]}' for ${name}`);
  let timestampMs: number | undefined;
  if (parts.length >= 2) {
    const ts = Number(parts[1]);
    if (!Number.isFinite(ts)) throw new PromParseError(lineNo, `bad timestamp '${parts[1]}' for ${name}`);
    timestampMs = ts;
  }
  if (parts.length > 2) throw new PromParseError(lineNo, `unexpected text after the timestamp of ${name}`);
  return { name, labels, value, ...(timestampMs === undefined ? {} : { timestampMs }) };
}

/** The first index at or after i that is not a blank (space or tab). */
function skipBlanks(line: string, i: number): number {
  while (i < line.length && (line[i] === ' ' || line[i] === '\t')) i++;
  return i;
}

/** The end of the name (metric or label) that starts at i: a `first` character, then any `rest` ones. */
function nameEnd(line: string, i: number, first: CharClass, rest: CharClass, what: string, lineNo: number): number {
  if (i >= line.length || !first.test(line[i]!)) throw new PromParseError(lineNo, `expected ${what} at column ${i + 1}`);
  let j = i + 1;
  while (j < line.length && rest.test(line[j]!)) j++;
  return j;
}

function readQuoted(line: string, start: number, lineNo: number): { value: string; end: number } {
  // Fast path: no escape before the closing quote.
  const close = line.indexOf('"', start + 1);
  if (close > 0) {
    const bs = line.indexOf('\\', start + 1);
    if (bs < 0 || bs > close) return { value: line.slice(start + 1, close), end: close + 1 };
  }
  let i = start + 1;
  let out = '';
  for (;;) {
    if (i >= line.length) throw new PromParseError(lineNo, 'unterminated quoted string');
    const c = line[i]!;
    if (c === '\\') {
      const d = line[i + 1];
      if (d === 'n') out += '\n';
      else if (d === '\\') out += '\\';
      else if (d === '"') out += '"';
      else if (d === undefined) throw new PromParseError(lineNo, 'unterminated escape');
      else out += `\\${d}`;
      i += 2;
      continue;
    }
    if (c === '"') return { value: out, end: i + 1 };
    out += c;
    i++;
  }
}

/** The family a series name belongs to: `x_bucket`/`x_sum`/`x_count` of histogram/summary `x`, `x_total` of counter `x`. */
export function familyOf(name: string, families: ReadonlyMap<string, PromFamily>): PromFamily | undefined {
  const direct = families.get(name);
  if (direct) return direct;
  for (const suffix of ['_bucket', '_sum', '_count', '_total', '_created', '_gsum', '_gcount']) {
    if (name.endsWith(suffix)) {
      const f = families.get(name.slice(0, -suffix.length));
      if (f) return f;
    }
  }
  return undefined;
}
