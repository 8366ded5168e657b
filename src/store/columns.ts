/**
 * The column table: for every table of the store, each column's SQL name, declared SQL type, the record field
 * it maps to and how (its kind), and what it means. It drives the `INSERT` column lists, the readers (the
 * record decoders are compiled from it), the per-request export's columns, the record types of api.ts and the
 * schema section of the docs (`columnDocs`, checked by a test); a test checks it against the migrated schema
 * (names, order, types, NOT NULL). The schema itself is still made by the append-only MIGRATIONS (schema.ts).
 *
 * Kinds: `int`, `real`, `text` (as stored), `bool` (INTEGER 0/1 ⇄ boolean), `json` / `json-strings` (TEXT
 * holding a JSON object ⇄ a parsed object; unreadable JSON reads as {}), `blob` (as stored). A column whose
 * SQL type says NOT NULL reads as its type, any other as its type or null.
 */
import { REQUEST_STATUSES, RUN_KINDS, RUN_STATUSES } from './schema.js';

export type ColumnKind = 'int' | 'real' | 'text' | 'bool' | 'json' | 'json-strings' | 'blob';

export interface Column {
  /** SQL column name. */
  readonly name: string;
  /** Declared SQL type, as the migrations create it (with NOT NULL where they say so). */
  readonly sql: string;
  /** The record field it maps to (camelCase). */
  readonly field: string;
  readonly kind: ColumnKind;
  /** A text column's allowed values (its CHECK constraint). */
  readonly values?: readonly string[];
  /** What it means (the docs' schema tables). */
  readonly doc: string;
}

const col = <const N extends string, const S extends string, const F extends string, const K extends ColumnKind>(
  name: N,
  sql: S,
  field: F,
  kind: K,
  doc: string,
): { readonly name: N; readonly sql: S; readonly field: F; readonly kind: K; readonly doc: string } => ({ name, sql, field, kind, doc });

const enumCol = <const N extends string, const S extends string, const F extends string, const V extends readonly string[]>(
  name: N,
  sql: S,
  field: F,
  values: V,
  doc: string,
): { readonly name: N; readonly sql: S; readonly field: F; readonly kind: 'text'; readonly values: V; readonly doc: string } => ({
  name,
  sql,
  field,
  kind: 'text',
  values,
  doc,
});

export const RUN_TABLE = [
  col('id', 'INTEGER', 'id', 'int', 'integer key'),
  col('uuid', 'TEXT NOT NULL', 'uuid', 'text', "a random UUID; a merged run's is its shards' shared `--run-uuid`"),
  col('name', 'TEXT NOT NULL', 'name', 'text', 'given with `--name`, else `<kind>-<id>`; not unique (a name finds the latest)'),
  enumCol('kind', 'TEXT NOT NULL', 'kind', RUN_KINDS, '`live` (measured against a server) or `sim` (simulator)'),
  enumCol(
    'status',
    'TEXT NOT NULL',
    'status',
    RUN_STATUSES,
    '`running`, `completed`, `interrupted` (Ctrl-C, SIGTERM) or `failed`; a run killed outright stays `running` (`runs list` and `runs show` call it `running (stale)` when its writing process on this host is gone)',
  ),
  col('started_at', 'TEXT NOT NULL', 'startedAt', 'text', 'ISO-8601 wall time of t0'),
  col('ended_at', 'TEXT', 'endedAt', 'text', 'ISO-8601 wall time of the end'),
  col('start_wall_ms', 'REAL NOT NULL', 'startWallMs', 'real', 'epoch milliseconds of t0 (the wall clock, read once)'),
  col('target', 'TEXT', 'target', 'text', 'server URL, or `reference:<deployment>` / `sim:<deployment>`'),
  col('deployment', 'TEXT', 'deployment', 'text', 'deployment name or file'),
  col('model', 'TEXT', 'model', 'text', 'model name'),
  col('trace_path', 'TEXT', 'tracePath', 'text', 'the trace file'),
  col('trace_sha256', 'TEXT', 'traceSha256', 'text', "the trace file's SHA-256"),
  col('time_scale', 'REAL NOT NULL', 'timeScale', 'real', 'K of `--time-scale` (1 = real time)'),
  col('offered_rate', 'REAL', 'offeredRate', 'real', 'requests/s offered, for rate-driven runs and sweeps'),
  col('warmup_s', 'REAL NOT NULL', 'warmupS', 'real', 'requests scheduled before this many seconds are warm-up (kept, excluded from summaries)'),
  col('lag_flagged', 'INTEGER NOT NULL', 'lagFlagged', 'bool', '1 when the client fell behind the schedule beyond the bound'),
  col('lag_p99_s', 'REAL', 'lagP99S', 'real', "p99 of the requests' `lag`"),
  col('options_json', 'TEXT NOT NULL', 'options', 'json', 'the fully resolved options (defaults < files < environment < flags)'),
  col('tags_json', 'TEXT NOT NULL', 'tags', 'json-strings', '`--tag KEY=VALUE` labels'),
  col('env_json', 'TEXT NOT NULL', 'env', 'json', 'Node version, host, CPU model and count, platform, pid of the writer'),
  col('splitbench_version', 'TEXT NOT NULL', 'splitbenchVersion', 'text', 'the version that wrote the run'),
  col('seed', 'INTEGER', 'seed', 'int', 'random seed, when one was used'),
  col('notes_json', 'TEXT NOT NULL', 'notes', 'json', 'free-form extras (never-completed counts, flags)'),
  col(
    'distorted',
    'INTEGER NOT NULL',
    'distorted',
    'bool',
    "1 when the live run's self-check found the machine distorted it (schema 3; [twin check](replay.md#twin-check-live-runs-that-check-themselves))",
  ),
  col('distorted_reason', 'TEXT', 'distortedReason', 'text', 'why it was found distorted'),
  col('twin_run_id', 'INTEGER', 'twinRunId', 'int', 'the `sim` run that simulated the same requests (the twin) of a live run against the bundled backend'),
] as const;

export const REQUEST_TABLE = [
  col('run_id', 'INTEGER NOT NULL', 'runId', 'int', 'the run (`runs.id`)'),
  col('shard', 'INTEGER NOT NULL', 'shard', 'int', 'shard of a scaled-out run (0 otherwise)'),
  col('seq', 'INTEGER NOT NULL', 'seq', 'int', 'position in the (transformed) trace'),
  col('trace_id', 'TEXT NOT NULL', 'traceId', 'text', "the trace's request id (or row index)"),
  col(
    'session_id',
    'TEXT',
    'sessionId',
    'text',
    "the trace's session id (a session workload: the session the turn belongs to, [Sessions](traces.md#sessions))",
  ),
  col('arrival', 'REAL NOT NULL', 'arrival', 'real', 'trace arrival, seconds from the trace start after transforms'),
  col('prompt_tokens', 'INTEGER NOT NULL', 'promptTokens', 'int', 'prompt tokens asked for'),
  col('output_tokens', 'INTEGER NOT NULL', 'outputTokens', 'int', 'output tokens asked for'),
  col('warmup', 'INTEGER NOT NULL', 'warmup', 'bool', '1 for a warm-up request'),
  col('scheduled', 'REAL NOT NULL', 'scheduled', 'real', 'when the schedule said to send'),
  col('send', 'REAL', 'send', 'real', 'when it was handed to the HTTP client (or the engine)'),
  col('first_token', 'REAL', 'firstToken', 'real', "first token's arrival"),
  col('end', 'REAL', 'end', 'real', "last token's arrival (ok) or the failure time"),
  col('lag', 'REAL', 'lag', 'real', '`send − scheduled`'),
  enumCol(
    'status',
    'TEXT NOT NULL',
    'status',
    REQUEST_STATUSES,
    '`ok`, `error`, `timeout`, `cancelled`, `never-completed` (still in flight when the run ended)',
  ),
  col('error_code', 'TEXT', 'errorCode', 'text', 'why it failed: the `SB_*` code'),
  col('error', 'TEXT', 'error', 'text', 'why it failed: the message'),
  col('http_status', 'INTEGER', 'httpStatus', 'int', 'the HTTP status of a failed request'),
  col('timeout_phase', 'TEXT', 'timeoutPhase', 'text', '`connect`, `headers`, `first-token`, `between-tokens` or `total`'),
  col('tokens_received', 'INTEGER NOT NULL', 'tokensReceived', 'int', 'output tokens counted by the client'),
  col('usage_prompt', 'INTEGER', 'usagePrompt', 'int', "prompt tokens in the server's final usage block"),
  col('usage_completion', 'INTEGER', 'usageCompletion', 'int', "completion tokens in the server's final usage block"),
  col('count_method', 'TEXT', 'countMethod', 'text', 'how tokens were counted: `usage-continuous`, `usage-final`, `chunks`, `exact`'),
  col('ttft', 'REAL', 'ttft', 'real', '`first_token − send`'),
  col('tpot', 'REAL', 'tpot', 'real', '`(e2e − ttft) / (tokens_received − 1)`, when more than one token arrived'),
  col('e2e', 'REAL', 'e2e', 'real', '`end − send`, status `ok` only'),
  col('ttft_sched', 'REAL', 'ttftSched', 'real', '`first_token − scheduled` (what a user of an overloaded client would see)'),
  col('e2e_sched', 'REAL', 'e2eSched', 'real', '`end − scheduled`, status `ok` only'),
  col('max_stall', 'REAL', 'maxStall', 'real', 'the longest gap between consecutive token-carrying chunks after the first (NULL with fewer than 2)'),
  col('queue_s', 'REAL', 'queueS', 'real', 'server-side breakdown (reference backend, simulator): queueing'),
  col('prefill_s', 'REAL', 'prefillS', 'real', 'server-side breakdown: prefill'),
  col('kv_transfer_s', 'REAL', 'kvTransferS', 'real', 'server-side breakdown: KV-cache transfer'),
  col('decode_wait_s', 'REAL', 'decodeWaitS', 'real', 'server-side breakdown: waiting for a decode slot'),
  col('decode_s', 'REAL', 'decodeS', 'real', 'server-side breakdown: decode'),
  col('prompt_machine', 'TEXT', 'promptMachine', 'text', 'where the prompt phase ran'),
  col('token_machine', 'TEXT', 'tokenMachine', 'text', 'where the token phase ran'),
  col('pool', 'TEXT', 'pool', 'text', "the prompt machine's pool"),
  col('token_times', 'BLOB', 'tokenTimes', 'blob', 'per-chunk arrivals, compact blob (below)'),
  col('coalesced', 'INTEGER', 'coalesced', 'int', 'live runs: token-carrying chunks that arrived in the same read as the one before (schema 3; NULL in sims)'),
  col(
    'cached_prompt_tokens',
    'INTEGER',
    'cachedPromptTokens',
    'int',
    "prompt tokens the prompt machine's prefix cache supplied (schema 4; NULL: not reported)",
  ),
  col('session_turn', 'INTEGER', 'sessionTurn', 'int', "a session workload's turn index in its session, 0-based (schema 5; NULL: not sent as a session turn)"),
] as const;

export const MACHINE_TABLE = [
  col('run_id', 'INTEGER NOT NULL', 'runId', 'int', 'the run'),
  col('machine_id', 'TEXT NOT NULL', 'machineId', 'text', 'e.g. `prompt-0`, or a host name'),
  col('machine_type', 'TEXT NOT NULL', 'machineType', 'text', 'catalog name, e.g. `dgx-h100`'),
  col('pool', 'TEXT NOT NULL', 'pool', 'text', '`prompt`, `token`, `mixed` or a user role'),
  col('gpus', 'INTEGER', 'gpus', 'int', 'GPUs in the machine'),
  col('price_per_hour', 'REAL', 'pricePerHour', 'real', '$/h'),
  col('tdp_w', 'REAL', 'tdpW', 'real', 'thermal design power (watts)'),
  col('idle_w', 'REAL', 'idleW', 'real', 'idle power (watts)'),
] as const;

export const POWER_TABLE = [
  col('run_id', 'INTEGER NOT NULL', 'runId', 'int', 'the run'),
  col('t', 'REAL NOT NULL', 't', 'real', 'seconds from t0 (trace seconds)'),
  col('machine_id', 'TEXT NOT NULL', 'machineId', 'text', 'the machine'),
  col('role', 'TEXT NOT NULL', 'role', 'text', 'pool or user-given role'),
  col('source', 'TEXT NOT NULL', 'source', 'text', '`model`, `nvidia-smi`, `dcgm`, `prometheus`'),
  col('watts', 'REAL', 'watts', 'real', 'NULL marks a gap: the source failed'),
  col('energy_j', 'REAL', 'energyJ', 'real', 'cumulative joules, where the source has a counter'),
] as const;

export const TIMELINE_TABLE = [
  col('run_id', 'INTEGER NOT NULL', 'runId', 'int', 'the run'),
  col('t', 'REAL NOT NULL', 't', 'real', 'seconds from t0'),
  col('source', 'TEXT NOT NULL', 'source', 'text', '`engine`, `client` or the scraped URL'),
  col('role', 'TEXT NOT NULL', 'role', 'text', 'pool / role'),
  col('name', 'TEXT NOT NULL', 'name', 'text', '`in_flight`, `queue_depth`, `batch_size`, `kv_used_frac`, …'),
  col('labels_json', 'TEXT NOT NULL', 'labels', 'json-strings', 'labels (a JSON object)'),
  col('value', 'REAL NOT NULL', 'value', 'real', 'the sample'),
] as const;

export const SLO_RESULT_TABLE = [
  col('run_id', 'INTEGER NOT NULL', 'runId', 'int', 'the run'),
  col('evaluated_at', 'TEXT NOT NULL', 'evaluatedAt', 'text', 'ISO-8601'),
  col('slo_file', 'TEXT NOT NULL', 'sloFile', 'text', 'the SLO file'),
  col('rule', 'TEXT NOT NULL', 'rule', 'text', 'the rule as written'),
  col('metric', 'TEXT NOT NULL', 'metric', 'text', 'the metric it reads'),
  col('value', 'REAL', 'value', 'real', "the run's value"),
  col('limit_value', 'REAL', 'limitValue', 'real', 'the limit'),
  col('op', 'TEXT NOT NULL', 'op', 'text', 'the comparison'),
  col('passed', 'INTEGER NOT NULL', 'passed', 'bool', '0/1'),
  col('baseline_run_id', 'INTEGER', 'baselineRunId', 'int', 'the baseline run of a relative rule'),
  col('detail', 'TEXT', 'detail', 'text', 'why, in words'),
] as const;

export const SHARD_TABLE = [
  col('run_id', 'INTEGER NOT NULL', 'runId', 'int', 'the run'),
  col('run_uuid', 'TEXT NOT NULL', 'runUuid', 'text', 'the identity shared by every shard of one run (`--run-uuid`)'),
  col('shard_index', 'INTEGER NOT NULL', 'shardIndex', 'int', '0-based'),
  col('shard_count', 'INTEGER NOT NULL', 'shardCount', 'int', 'shards in the run'),
  col('host', 'TEXT', 'host', 'text', 'the host the shard ran on'),
  col('start_at_ms', 'REAL', 'startAtMs', 'real', 'the shared start instant (reference clock, epoch ms)'),
  col('t0_local_ms', 'REAL NOT NULL', 't0LocalMs', 'real', "this shard's t0 on its own wall clock (epoch ms, uncorrected)"),
  col('time_ref', 'TEXT', 'timeRef', 'text', 'URL of the clock reference; NULL: not measured'),
  col('offset_start_ms', 'REAL', 'offsetStartMs', 'real', 'reference − local wall clock at start (ms)'),
  col('rtt_start_ms', 'REAL', 'rttStartMs', 'real', 'round trip of that measurement (the offset is exact within ±rtt/2)'),
  col('offset_end_ms', 'REAL', 'offsetEndMs', 'real', 'the same at the end'),
  col('rtt_end_ms', 'REAL', 'rttEndMs', 'real', 'its round trip'),
  col('late_ms', 'REAL', 'lateMs', 'real', 'how late the shard was ready for the start (ms; <= 0: on time)'),
  col('late', 'INTEGER NOT NULL', 'late', 'bool', '1 when it was late'),
  col('file_sha256', 'TEXT', 'fileSha256', 'text', 'merged store: SHA-256 of the merged shard file'),
  col('source_run_uuid', 'TEXT', 'sourceRunUuid', 'text', "merged store: `runs.uuid` of the shard's run in that file"),
  col('merged_at', 'TEXT', 'mergedAt', 'text', 'merged store: when it was merged'),
] as const;

/** Every table's columns, by SQL table name. */
export const TABLES = {
  runs: RUN_TABLE,
  requests: REQUEST_TABLE,
  machines: MACHINE_TABLE,
  power_samples: POWER_TABLE,
  timeline_samples: TIMELINE_TABLE,
  slo_results: SLO_RESULT_TABLE,
  shards: SHARD_TABLE,
} as const satisfies Record<string, readonly Column[]>;
export type TableName = keyof typeof TABLES;

// ---- Record types from the table ----

type BaseType<C> = C extends { readonly values: readonly (infer V)[] }
  ? V
  : C extends { readonly kind: infer K }
    ? K extends 'int' | 'real'
      ? number
      : K extends 'text'
        ? string
        : K extends 'bool'
          ? boolean
          : K extends 'json'
            ? Record<string, unknown>
            : K extends 'json-strings'
              ? Record<string, string>
              : K extends 'blob'
                ? Uint8Array
                : never
    : never;

/** A column's field type: its kind's type, or null too unless declared NOT NULL (or the table's integer key). */
export type FieldType<C> = C extends { readonly sql: `${string}NOT NULL${string}` } | { readonly name: 'id' } ? BaseType<C> : BaseType<C> | null;

/** The record a table's rows read as: one readonly field per column. */
export type RecordOf<T extends readonly Column[]> = { readonly [C in T[number] as C['field']]: FieldType<C> };

/** The record fields of some columns of a table. */
export type FieldOf<T extends readonly Column[]> = T[number]['field'];

/** The SQL names of a table's columns, in table order. */
export function columnNames(t: readonly Column[]): string[] {
  return t.map((c) => c.name);
}

/** The SQL column list `"a", "b", …` of some columns. */
export function columnList(t: readonly Column[]): string {
  return t.map((c) => `"${c.name}"`).join(', ');
}

/** The columns of `t` whose fields are `fields`, in that order (throws on an unknown field: a programming error). */
export function pick<T extends readonly Column[]>(t: T, fields: readonly FieldOf<T>[]): Column[] {
  return fields.map((f) => {
    const c = t.find((x) => x.field === f);
    if (!c) throw new TypeError(`store: no column for field ${String(f)}`);
    return c;
  });
}

// ---- Decoders compiled from the table ----

function parseJsonObject(text: unknown): Record<string, unknown> {
  if (typeof text !== 'string' || text === '') return {};
  try {
    const v = JSON.parse(text) as unknown;
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/**
 * A decoder of raw (array) rows of `cols`, in that order, into records keyed by field: compiled once into one
 * object literal per row (one shape, no per-column loop), because the summary reads tens of thousands of rows.
 * `extra` adds fields computed from the raw row (`extra[field] = (row) => value`). `at[i]`, when given, is
 * where column `i` is in the row (a row of more columns than are decoded, e.g. a row's bound parameters).
 */
export function compileDecoder<R>(
  cols: readonly Column[],
  extra: Readonly<Record<string, (row: unknown[]) => unknown>> = {},
  at?: readonly number[],
): (row: unknown[]) => R {
  const parts: string[] = [];
  cols.forEach((c, i) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(c.field)) throw new TypeError(`store: bad field name ${c.field}`);
    const v = `r[${at ? at[i]! : i}]`;
    const notNull = /NOT NULL/.test(c.sql) || c.name === 'id';
    let e: string;
    switch (c.kind) {
      case 'bool':
        e = `${v} === 1`;
        break;
      case 'json':
      case 'json-strings':
        e = `pj(${v})`;
        break;
      default:
        e = notNull ? v : `${v} ?? null`;
    }
    parts.push(`${c.field}: ${e}`);
  });
  const names = Object.keys(extra);
  names.forEach((f, i) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(f)) throw new TypeError(`store: bad field name ${f}`);
    parts.push(`${f}: x${i}(r)`);
  });
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  const make = new Function('pj', ...names.map((_, i) => `x${i}`), `return (r) => ({ ${parts.join(', ')} });`) as (...fns: unknown[]) => (row: unknown[]) => R;
  return make(parseJsonObject, ...names.map((f) => extra[f]));
}

/** The `INSERT INTO table (cols) VALUES (?, …)` statement text of some columns. */
export function insertSql(table: TableName, cols: readonly Column[], verb = 'INSERT'): string {
  return `${verb} INTO ${table} (${columnList(cols)}) VALUES (${cols.map(() => '?').join(', ')})`;
}

/** A table's columns as the docs' Markdown table (column, SQL type, record field, meaning). */
export function columnDocs(table: TableName): string {
  const esc = (s: string): string => s.replace(/\|/g, '\\|');
  const lines = ['| column | SQL type | field | meaning |', '|---|---|---|---|'];
  for (const c of TABLES[table] as readonly Column[]) {
    const type = c.kind === 'bool' ? `${c.sql} (0/1)` : c.kind === 'json' || c.kind === 'json-strings' ? `${c.sql} (JSON)` : c.sql;
    lines.push(`| \`${c.name}\` | ${type} | \`${c.field}\` | ${esc(c.doc)} |`);
  }
  return lines.join('\n');
}

/**
 * An encoder of records keyed by field into the bound parameters of `cols`, in that order: `bool` fields as
 * 0/1, every other value as given (callers give SQL NULL as null). Compiled once, like the decoders.
 */
export function compileEncoder<R>(cols: readonly Column[]): (rec: R) => unknown[] {
  const parts = cols.map((c) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(c.field)) throw new TypeError(`store: bad field name ${c.field}`);
    return c.kind === 'bool' ? `o.${c.field} ? 1 : 0` : `o.${c.field}`;
  });
  return new Function(`return (o) => [${parts.join(', ')}];`)() as (rec: R) => unknown[];
}

/** Replace every `<!-- columns:TABLE -->` … `<!-- /columns:TABLE -->` block of a Markdown text with `columnDocs(TABLE)`. */
export function renderColumnDocs(markdown: string): string {
  return markdown.replace(/<!-- columns:([a-z_]+) -->\n[\s\S]*?<!-- \/columns:\1 -->/g, (_block, table: string) => {
    if (!(table in TABLES)) throw new TypeError(`docs: no table ${table} in the column table`);
    return `<!-- columns:${table} -->\n${columnDocs(table as TableName)}\n<!-- /columns:${table} -->`;
  });
}
