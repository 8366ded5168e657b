/**
 * The store's side of sharded runs (src/scale): reading a shard's store file, checkpointing it for a stable
 * hash, copying a finished store to a shared folder, and importing the shards of one run into a merged run.
 * The checks and the arithmetic of a merge stay in src/scale/merge.ts; only the SQL lives here.
 */
import { mkdirSync, renameSync, existsSync } from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { SqliteDb } from './sqlite.js';
import { StoreError } from '../errors.js';
import { VERSION } from '../version.js';
import { APPLICATION_ID, SCHEMA_VERSION } from './schema.js';
import {
  columnList,
  compileDecoder,
  insertSql,
  REQUEST_TABLE,
  RUN_TABLE,
  SHARD_TABLE,
  MACHINE_TABLE,
  POWER_TABLE,
  TIMELINE_TABLE,
  type Column,
} from './columns.js';
import type { RunRecord, ShardRecord } from './api.js';

type DB = Database.Database;

/** One shard row of a store file, with its run and the run's request count. */
export interface ShardOfFile {
  readonly shard: ShardRecord;
  readonly run: RunRecord;
  readonly requests: number;
}

const toRun = compileDecoder<RunRecord>(RUN_TABLE);
const toShard = compileDecoder<ShardRecord>(SHARD_TABLE);

/**
 * Checkpoint a store file's write-ahead log into the file (content unchanged), so its bytes are stable however
 * often it is opened; false when it cannot be (a read-only file or folder).
 */
export function checkpointStore(file: string): boolean {
  try {
    const w = new SqliteDb(file, { fileMustExist: true, timeout: 10_000 });
    try {
      if ((w.pragma('journal_mode', { simple: true }) as string) === 'wal') w.pragma('wal_checkpoint(TRUNCATE)');
    } finally {
      w.close();
    }
    return true;
  } catch {
    return false;
  }
}

/**
 * The shard rows of a store file (read-only; the file is not modified), each with its run and request count,
 * by run id. Errors (StoreError) name the file as `name`: not SQLite, not a splitbench store, another schema
 * version than this build's.
 */
export function readShardStore(file: string, name: string): ShardOfFile[] {
  let db: DB;
  try {
    db = new SqliteDb(file, { readonly: true, fileMustExist: true });
  } catch (e) {
    throw new StoreError(`${name}: cannot open: ${(e as Error).message}`);
  }
  try {
    let appId: number;
    let version: number;
    try {
      appId = db.pragma('application_id', { simple: true }) as number;
      version = db.pragma('user_version', { simple: true }) as number;
    } catch {
      throw new StoreError(`${name}: not an SQLite database`);
    }
    if (appId !== APPLICATION_ID) throw new StoreError(`${name}: not a splitbench results store`);
    if (version !== SCHEMA_VERSION) {
      throw new StoreError(`${name}: store schema version ${version}, but this splitbench ${VERSION} merges version ${SCHEMA_VERSION}`, {
        hint: 'merge shards written by the same splitbench version as the merge',
      });
    }
    const shards = (
      db
        .prepare(`SELECT ${columnList(SHARD_TABLE)} FROM shards ORDER BY run_id`)
        .raw(true)
        .all() as unknown[][]
    ).map(toShard);
    const getRun = db.prepare(`SELECT ${columnList(RUN_TABLE)} FROM runs WHERE id = ?`).raw(true);
    const count = db.prepare('SELECT count(*) FROM requests WHERE run_id = ?').pluck();
    const out: ShardOfFile[] = [];
    for (const shard of shards) {
      const r = getRun.get(shard.runId) as unknown[] | undefined;
      if (!r) continue; // a shard row without its run (the join the merge reads)
      out.push({ shard, run: toRun(r), requests: count.get(shard.runId) as number });
    }
    return out;
  } finally {
    db.close();
  }
}

/**
 * Copy a finished store to `dest` as one consistent file: SQLite's online backup into `dest.tmp-PID` beside it
 * (no WAL: a plain rollback-journal file, safe to read over NFS), then a rename, so readers never see half a file.
 * A missing `src` copies nothing.
 */
export async function publishStore(src: string, dest: string): Promise<void> {
  if (!existsSync(src)) return;
  mkdirSync(path.dirname(dest), { recursive: true });
  const tmp = `${dest}.tmp-${process.pid}`;
  const db = new SqliteDb(src, { readonly: true, fileMustExist: true });
  try {
    await db.backup(tmp);
  } finally {
    db.close();
  }
  const out = new SqliteDb(tmp);
  try {
    out.pragma('journal_mode = DELETE');
  } finally {
    out.close();
  }
  renameSync(tmp, dest);
}

/** One shard to import: its file and run there, where its timeline goes, the rows it must hold. */
export interface ShardImport {
  readonly index: number;
  readonly file: string;
  /** The file as error messages name it. */
  readonly label: string;
  readonly sourceRunId: number;
  /** Seconds added to its request times and sample times (its t0 − the merged run's t0). */
  readonly shiftS: number;
  /** Request rows it holds (checked after the copy). */
  readonly requests: number;
  /** Its shard row (copied, with the merge's fields below). */
  readonly shard: ShardRecord;
  readonly sha256: string;
  readonly sourceRunUuid: string;
}

/** The merged run's `runs` fields (JSON columns as objects). */
export type MergedRun = Omit<RunRecord, 'id' | 'lagFlagged' | 'lagP99S' | 'distorted' | 'distortedReason' | 'twinRunId'>;

const TIME_COLS = new Set(['scheduled', 'send', 'first_token', 'end']);
const without = (t: readonly Column[], ...names: string[]): Column[] => t.filter((c) => !names.includes(c.name));

/**
 * Import shards into one new run of `db`: each shard file is ATTACHed one at a time (SQLite allows 10) and
 * staged into TEMP tables (times shifted, `shard` set to its index, timeline labels given `shard`); the merged
 * run, all rows and the shard rows then go in one transaction, with the union's lag p99 (`lagFlagS`: the flag's
 * bound; `anyLagFlagged`: a shard was flagged). Returns the new run's id and the rows copied per shard.
 */
export function importShards(
  db: DB,
  shards: readonly ShardImport[],
  run: MergedRun,
  lag: { readonly lagFlagS: number; readonly anyLagFlagged: boolean },
  mergedAt: string,
): { runId: number; copied: Map<number, number> } {
  const cols = columnList(REQUEST_TABLE);
  const staged = (t: string): string => `DROP TABLE IF EXISTS temp.m_${t};`;
  const dropAll = staged('requests') + staged('machines') + staged('power') + staged('timeline');
  const power = without(POWER_TABLE, 'run_id').map((c) => c.name);
  const timeline = without(TIMELINE_TABLE, 'run_id').map((c) => c.name);
  const machines = without(MACHINE_TABLE, 'run_id').map((c) => c.name);
  db.exec(`${dropAll}
      CREATE TEMP TABLE m_requests AS SELECT * FROM main.requests WHERE 0;
      CREATE TEMP TABLE m_machines AS SELECT * FROM main.machines WHERE 0;
      CREATE TEMP TABLE m_power AS SELECT * FROM main.power_samples WHERE 0;
      CREATE TEMP TABLE m_timeline AS SELECT * FROM main.timeline_samples WHERE 0;`);
  const copied = new Map<number, number>();
  try {
    for (const s of shards) {
      db.prepare('ATTACH DATABASE ? AS shard').run(s.file);
      try {
        const version = db.prepare('PRAGMA shard.user_version').pluck().get() as number;
        if (version !== SCHEMA_VERSION) throw new StoreError(`${s.label}: store schema version ${version} changed while merging`);
        const sel = REQUEST_TABLE.map((c) =>
          c.name === 'run_id' ? '0' : c.name === 'shard' ? String(s.index) : TIME_COLS.has(c.name) ? `"${c.name}" + @shift` : `"${c.name}"`,
        ).join(', ');
        const n = db
          .prepare(`INSERT INTO temp.m_requests (${cols}) SELECT ${sel} FROM shard.requests WHERE run_id = @run`)
          .run({ shift: s.shiftS, run: s.sourceRunId }).changes;
        copied.set(s.index, n);
        db.prepare('INSERT INTO temp.m_machines SELECT * FROM shard.machines WHERE run_id = ?').run(s.sourceRunId);
        const pSel = power.map((c) => (c === 't' ? 't + @shift' : c)).join(', ');
        db.prepare(`INSERT INTO temp.m_power (run_id, ${power.join(', ')}) SELECT 0, ${pSel} FROM shard.power_samples WHERE run_id = @run`).run({
          shift: s.shiftS,
          run: s.sourceRunId,
        });
        const tSel = timeline.map((c) => (c === 't' ? 't + @shift' : c === 'labels_json' ? "json_set(labels_json, '$.shard', @idx)" : c)).join(', ');
        db.prepare(`INSERT INTO temp.m_timeline (run_id, ${timeline.join(', ')}) SELECT 0, ${tSel} FROM shard.timeline_samples WHERE run_id = @run`).run({
          shift: s.shiftS,
          run: s.sourceRunId,
          idx: String(s.index),
        });
      } finally {
        db.exec('DETACH DATABASE shard');
      }
      if (copied.get(s.index) !== s.requests)
        throw new StoreError(`${s.label}: copied ${copied.get(s.index)} request rows, expected ${s.requests} (the file changed while merging?)`);
    }

    const runCols = without(RUN_TABLE, 'id', 'lag_flagged', 'lag_p99_s', 'distorted', 'distorted_reason', 'twin_run_id');
    const runId = db
      .transaction(() => {
        const values = runCols.map((c) => {
          const v = run[c.field as keyof MergedRun];
          return c.kind === 'json' || c.kind === 'json-strings' ? JSON.stringify(v) : v;
        });
        const id = Number(db.prepare(insertSql('runs', runCols)).run(values).lastInsertRowid);
        db.prepare(
          `INSERT INTO main.requests (${cols}) SELECT ${REQUEST_TABLE.map((c) => (c.name === 'run_id' ? '?' : `"${c.name}"`)).join(', ')} FROM temp.m_requests`,
        ).run(id);
        db.prepare(`INSERT OR IGNORE INTO main.machines (run_id, ${machines.join(', ')}) SELECT ?, ${machines.join(', ')} FROM temp.m_machines`).run(id);
        db.prepare(`INSERT INTO main.power_samples (run_id, ${power.join(', ')}) SELECT ?, ${power.join(', ')} FROM temp.m_power ORDER BY t`).run(id);
        db.prepare(`INSERT INTO main.timeline_samples (run_id, ${timeline.join(', ')}) SELECT ?, ${timeline.join(', ')} FROM temp.m_timeline ORDER BY t`).run(
          id,
        );
        const insShard = db.prepare(insertSql('shards', SHARD_TABLE));
        for (const s of shards) {
          const x = s.shard;
          insShard.run(
            id,
            run.uuid,
            s.index,
            x.shardCount,
            x.host,
            x.startAtMs,
            x.t0LocalMs,
            x.timeRef,
            x.offsetStartMs,
            x.rttStartMs,
            x.offsetEndMs,
            x.rttEndMs,
            x.lateMs,
            x.late ? 1 : 0,
            s.sha256,
            s.sourceRunUuid,
            mergedAt,
          );
        }
        // Schedule lag of the union (the replay flags a run whose lag p99 exceeds its bound).
        const lags = db.prepare('SELECT lag FROM requests WHERE run_id = ? AND lag IS NOT NULL ORDER BY lag').pluck().all(id) as number[];
        if (lags.length > 0) {
          const p99 = lags[Math.min(lags.length - 1, Math.ceil(0.99 * lags.length) - 1)]!;
          db.prepare('UPDATE runs SET lag_p99_s = ?, lag_flagged = ? WHERE id = ?').run(p99, p99 > lag.lagFlagS || lag.anyLagFlagged ? 1 : 0, id);
        }
        return id;
      })
      .immediate();
    return { runId, copied };
  } finally {
    db.exec(dropAll);
  }
}
