/**
 * Writing a run's buffered rows: the prepared INSERTs of a connection and one batch's transaction. Used by
 * the writer in its own thread and by its writer thread (bulk-worker.ts), which imports only this module's
 * few dependencies (it starts faster than with the whole store).
 */
import type Database from 'better-sqlite3';
import {
  columnList,
  compileDecoder,
  compileEncoder,
  insertSql,
  MACHINE_TABLE,
  pick,
  POWER_TABLE,
  REQUEST_TABLE,
  TIMELINE_TABLE,
  type Column,
  type FieldOf,
  type RecordOf,
  type TableName,
} from './columns.js';
import { compileReader, constantColumns, viewOf, type BatchReader, type BatchView, type TableBatch } from './batch.js';
import type { MachineRow } from './api.js';

type DB = Database.Database;

/** Rows per multi-row INSERT (one statement step for this many rows: SQLite's per-statement cost shared). */
const INSERT_GROUP = 32;

/** Group statements kept per table, one per set of constant columns (a run's batches mostly share one). */
const GROUP_STATEMENTS = 8;

/** An INSERT of INSERT_GROUP rows with some columns as literals, and the reader of the other columns. */
interface Group {
  readonly stmt: Database.Statement;
  readonly read: BatchReader;
}

/** A table's INSERT of one row, its group INSERTs by constant columns, its batch reader and a reused parameter array. */
interface Insert {
  readonly db: DB;
  readonly table: TableName;
  readonly cols: readonly Column[];
  /** The primary key's number columns, in the order rows are inserted (none: as added). */
  readonly key: readonly number[];
  readonly one: Database.Statement;
  readonly read: BatchReader;
  readonly groups: Map<string, Group>;
  readonly flat: unknown[];
}

function prepareInsert(db: DB, table: TableName, cols: readonly Column[], key: readonly string[] = []): Insert {
  const at = key.map((k) => cols.findIndex((c) => c.name === k));
  return { db, table, cols, key: at, one: db.prepare(insertSql(table, cols)), read: compileReader(cols), groups: new Map(), flat: [] };
}

/**
 * The group INSERT of a batch: the columns that hold one value in all its rows are written in as literals
 * (the same stored values, fewer to bind: a sim's run id, shard, status and NULL columns).
 */
function groupOf(ins: Insert, b: TableBatch): Group {
  const lits = constantColumns(ins.cols, b);
  const key = lits.map((l) => l ?? '?').join('\u0000');
  let g = ins.groups.get(key);
  if (g === undefined) {
    const row = `(${lits.map((l) => l ?? '?').join(', ')})`;
    const sql = `INSERT INTO ${ins.table} (${columnList(ins.cols)}) VALUES ${`${row}, `.repeat(INSERT_GROUP - 1)}${row}`;
    g = {
      stmt: ins.db.prepare(sql),
      read: compileReader(
        ins.cols,
        lits.map((l) => l !== undefined),
      ),
    };
    if (ins.groups.size >= GROUP_STATEMENTS) ins.groups.clear();
    ins.groups.set(key, g);
  }
  return g;
}

/**
 * Insert a batch's rows, INSERT_GROUP at a time (the bound values passed as arguments, which the driver
 * reads faster than an array's elements), in primary-key order where the table has one (a sim's requests
 * finish out of order). A group that fails (a failed statement changes nothing) is inserted again row by
 * row, so the error names its row (`name(row)` sets `cur.current`).
 */
function insertRows(ins: Insert, b: TableBatch, cur: { current: string }, name: (row: readonly unknown[]) => string): void {
  const { flat } = ins;
  const v = viewOf(ins.cols, b, ins.key);
  let i = 0;
  if (b.n >= INSERT_GROUP) {
    const { stmt, read } = groupOf(ins, b);
    for (; i + INSERT_GROUP <= b.n; i += INSERT_GROUP) {
      read(v, i, i + INSERT_GROUP, flat);
      try {
        stmt.run(...flat);
      } catch {
        oneByOne(ins, v, i, i + INSERT_GROUP, cur, name);
      }
    }
  }
  oneByOne(ins, v, i, b.n, cur, name);
}

function oneByOne(ins: Insert, v: BatchView, from: number, to: number, cur: { current: string }, name: (row: readonly unknown[]) => string): void {
  const row: unknown[] = [];
  for (let j = from; j < to; j++) {
    ins.read(v, j, j + 1, row);
    cur.current = name(row);
    ins.one.run(row);
  }
}

/** The writer's prepared INSERT statements. */
export interface Inserts {
  readonly req: Insert;
  readonly machine: Database.Statement;
  readonly power: Insert;
  readonly timeline: Insert;
}

export function prepareInserts(db: DB): Inserts {
  return {
    req: prepareInsert(db, 'requests', REQUEST_TABLE, ['run_id', 'shard', 'seq']),
    machine: db.prepare(insertSql('machines', MACHINE_TABLE, 'INSERT OR REPLACE')),
    power: prepareInsert(db, 'power_samples', POWER_TABLE),
    timeline: prepareInsert(db, 'timeline_samples', TIMELINE_TABLE),
  };
}

/** Bound parameters of a row of `t`: every field, SQL NULL as null, JSON columns as their text. */
export type Params<T extends readonly Column[]> = { readonly [F in FieldOf<T>]: unknown };
const encodeMachine = compileEncoder<Params<typeof MACHINE_TABLE>>(MACHINE_TABLE);

const nn = <T>(v: T | undefined): T | null => (v === undefined ? null : v);

/** One flush's rows: requests, power and timeline samples as batches of bound values (batch.ts). */
export interface WriteBatch {
  readonly reqs: TableBatch;
  readonly machines: readonly MachineRow[];
  readonly power: TableBatch;
  readonly timeline: TableBatch;
}

/** The buffers a WriteBatch hands over with it (postMessage's transfer list). */
export function transferOf(b: WriteBatch): ArrayBuffer[] {
  const out: ArrayBufferLike[] = [];
  for (const t of [b.reqs, b.power, b.timeline]) out.push(t.num.buffer, t.text.buffer, t.bytes.buffer, t.lens.buffer);
  return out as ArrayBuffer[];
}

/** Insert batches (one flush's, or held ones) in one IMMEDIATE transaction; `cur.current` names the row being written (errors). */
export function writeBatches(db: DB, ins: Inserts, id: number, batches: readonly WriteBatch[], cur: { current: string }): void {
  db.transaction(() => {
    for (const b of batches) {
      for (const m of b.machines) {
        cur.current = `machine ${m.machineId}`;
        ins.machine.run(
          encodeMachine({
            runId: id,
            machineId: m.machineId,
            machineType: m.machineType,
            pool: m.pool,
            gpus: nn(m.gpus),
            pricePerHour: nn(m.pricePerHour),
            tdpW: nn(m.tdpW),
            idleW: nn(m.idleW),
          }),
        );
      }
      insertRows(ins.req, b.reqs, cur, (p) => `request shard ${String(p[1])} seq ${String(p[2])}`);
      insertRows(ins.power, b.power, cur, () => 'power sample');
      insertRows(ins.timeline, b.timeline, cur, () => 'timeline sample');
    }
  }).immediate();
}

/**
 * A reader of a batch's request rows as `fields` records, decoded as the raw row reader (`requestRows`)
 * decodes them from the file (the batch holds the values the INSERT binds: what the file then holds). A
 * row's `tokenTimes` is a view of the batch's bytes, or with `copy` its own bytes (for a batch whose buffers
 * then move to another thread).
 */
export function compileBatchRows<F extends FieldOf<typeof REQUEST_TABLE>>(
  fields: readonly F[],
): (b: TableBatch, each: (row: Pick<RecordOf<typeof REQUEST_TABLE>, F>) => void, copy?: boolean) => void {
  const cols = pick(REQUEST_TABLE, fields);
  const at = cols.map((c) => (REQUEST_TABLE as readonly Column[]).indexOf(c));
  const decode = compileDecoder<Pick<RecordOf<typeof REQUEST_TABLE>, F>>(cols, {}, at);
  const read = compileReader(REQUEST_TABLE);
  const blob = REQUEST_TABLE.findIndex((c) => c.kind === 'blob');
  return (b, each, copy = false) => {
    if (b.n === 0) return;
    const view = viewOf(REQUEST_TABLE, b);
    const row: unknown[] = [];
    for (let i = 0; i < b.n; i++) {
      read(view, i, i + 1, row);
      if (copy && row[blob] instanceof Uint8Array) row[blob] = (row[blob] as Uint8Array).slice();
      each(decode(row));
    }
  };
}
