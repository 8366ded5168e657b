/** Test helpers: a temp store with the real schema, and runs/requests inserted through SQL. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION } from '../../src/store/schema.js';
import { encodeChunks, type Chunk } from '../../src/store/codec.js';
import { openStore } from '../../src/store/store.js';
import type { Store } from '../../src/store/api.js';

export function tmpDir(prefix = 'sb-metrics-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/**
 * A fresh store file with the schema applied; returns the open SQLite handle (to insert rows through SQL), its
 * path and the file opened as a splitbench store (what the metrics read through).
 */
export function makeStore(dir = tmpDir()): { db: Database.Database; file: string; store: Store } {
  const file = path.join(dir, 'store.db');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma(`application_id = ${APPLICATION_ID}`);
  for (const m of MIGRATIONS) db.exec(m);
  db.pragma(`user_version = ${SCHEMA_VERSION}`);
  return { db, file, store: openStore(file) };
}

export interface RunOpts {
  name?: string;
  kind?: 'live' | 'sim';
  status?: 'running' | 'completed' | 'interrupted' | 'failed';
  model?: string | null;
  warmupS?: number;
  lagFlagged?: boolean;
  options?: Record<string, unknown>;
}

let uuidSeq = 0;
export function insertRun(db: Database.Database, o: RunOpts = {}): number {
  const info = db
    .prepare(
      `INSERT INTO runs (uuid, name, kind, status, started_at, start_wall_ms, model, warmup_s, lag_flagged, options_json, splitbench_version)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .run(
      `uuid-${process.pid}-${uuidSeq++}`,
      o.name ?? 'run',
      o.kind ?? 'sim',
      o.status ?? 'completed',
      '2024-01-01T00:00:00.000Z',
      1704067200000,
      o.model === undefined ? 'llama2-70b' : o.model,
      o.warmupS ?? 0,
      o.lagFlagged ? 1 : 0,
      JSON.stringify(o.options ?? {}),
      'test',
    );
  return Number(info.lastInsertRowid);
}

export interface ReqOpts {
  seq: number;
  traceId?: string;
  prompt?: number;
  output?: number;
  warmup?: boolean;
  scheduled: number;
  send?: number | null;
  /** Seconds from send. */
  ttft?: number;
  /** Seconds from send (ok requests). */
  e2e?: number;
  status?: 'ok' | 'error' | 'timeout' | 'cancelled' | 'never-completed';
  tokens?: number;
  chunks?: Chunk[];
  pool?: string;
  breakdown?: { queue?: number; prefill?: number; kvTransfer?: number; decodeWait?: number; decode?: number };
}

export function insertRequest(db: Database.Database, runId: number, r: ReqOpts): void {
  const status = r.status ?? 'ok';
  const send = r.send === undefined ? r.scheduled : r.send;
  const output = r.output ?? r.tokens ?? 10;
  const tokens = r.tokens ?? (status === 'ok' ? output : 0);
  const first = send !== null && r.ttft !== undefined ? send + r.ttft : null;
  const end = send !== null && r.e2e !== undefined ? send + r.e2e : null;
  const b = r.breakdown ?? {};
  db.prepare(
    `INSERT INTO requests (run_id, seq, trace_id, arrival, prompt_tokens, output_tokens, warmup, scheduled, send, first_token,
       end, lag, status, tokens_received, ttft, e2e, queue_s, prefill_s, kv_transfer_s, decode_wait_s, decode_s, pool, token_times)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    runId,
    r.seq,
    r.traceId ?? String(r.seq),
    r.scheduled,
    r.prompt ?? 100,
    output,
    r.warmup ? 1 : 0,
    r.scheduled,
    send,
    first,
    end,
    send === null ? null : send - r.scheduled,
    status,
    tokens,
    first === null || send === null ? null : first - send,
    status === 'ok' && end !== null && send !== null ? end - send : null,
    b.queue ?? null,
    b.prefill ?? null,
    b.kvTransfer ?? null,
    b.decodeWait ?? null,
    b.decode ?? null,
    r.pool ?? null,
    r.chunks ? encodeChunks(r.chunks) : null,
  );
}

/** Evenly spaced chunks of one token each: first at `ttft`, then every `gap` seconds. */
export function evenChunks(tokens: number, ttft: number, gap: number): Chunk[] {
  return Array.from({ length: tokens }, (_, i) => ({ t: ttft + i * gap, tokens: 1 }));
}

/** Relative closeness for hdr percentiles (3 significant digits → within 1/1024). */
export function near(actual: number | undefined, expected: number, rel = 1 / 1024 + 1e-9, abs = 1e-6): boolean {
  if (actual === undefined) return false;
  return Math.abs(actual - expected) <= Math.max(abs, Math.abs(expected) * rel);
}
