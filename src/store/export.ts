/**
 * Per-request export of one run as CSV, JSON (one array) or JSON Lines, streamed row by row from SQLite
 * into a writable stream with back-pressure (a run of millions of requests never sits in memory).
 *
 * Columns: every `requests` column under its SQL name, except `token_times`, which becomes
 * `chunk_times_s` (each chunk's arrival, seconds from `send`) and `chunk_tokens` (tokens per chunk):
 * arrays in JSON/JSONL, `;`-joined in CSV.
 */
import type { Writable } from 'node:stream';
import { decodeChunks } from './codec.js';
import { REQUEST_TABLE } from './columns.js';
import type { Store } from './api.js';

export const EXPORT_FORMATS = ['csv', 'json', 'jsonl'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** Export columns, in order. */
export const EXPORT_COLUMNS: readonly string[] = [...REQUEST_TABLE.filter((c) => c.name !== 'token_times').map((c) => c.name), 'chunk_times_s', 'chunk_tokens'];

function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'string' ? v : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Write a run's requests to `out` in `format`; resolves with the number of rows written. */
export async function exportRequests(store: Store, runId: number, format: ExportFormat, out: Writable): Promise<number> {
  let failed: Error | undefined;
  const onError = (e: Error): void => {
    failed = e;
  };
  out.on('error', onError);
  let pending = '';
  const write = async (s: string, force = false): Promise<void> => {
    pending += s;
    if (pending.length < 1 << 16 && !force) return;
    if (failed) throw failed;
    const ok = out.write(pending);
    pending = '';
    if (!ok) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          out.off('drain', done);
          out.off('close', done);
          out.off('error', done);
          resolve();
        };
        out.on('drain', done);
        out.on('close', done);
        out.on('error', done);
      });
    }
    if (failed) throw failed;
  };

  const cols = EXPORT_COLUMNS;
  if (format === 'csv') await write(`${cols.join(',')}\n`);
  if (format === 'json') await write('[');
  let n = 0;
  const blobAt = REQUEST_TABLE.findIndex((c) => c.name === 'token_times');
  try {
    for (const r of store.requestValues(runId)) {
      const chunks = decodeChunks(r[blobAt] as Uint8Array | null);
      const rec: Record<string, unknown> = {};
      REQUEST_TABLE.forEach((c, i) => {
        if (i !== blobAt) rec[c.name] = r[i];
      });
      rec.chunk_times_s = chunks.map((c) => c.t);
      rec.chunk_tokens = chunks.map((c) => c.tokens);
      if (format === 'csv') {
        rec.chunk_times_s = (rec.chunk_times_s as number[]).join(';');
        rec.chunk_tokens = (rec.chunk_tokens as number[]).join(';');
        await write(`${cols.map((c) => csvCell(rec[c])).join(',')}\n`);
      } else if (format === 'json') {
        await write((n === 0 ? '\n' : ',\n') + JSON.stringify(rec));
      } else {
        await write(`${JSON.stringify(rec)}\n`);
      }
      n++;
    }
    if (format === 'json') await write(n === 0 ? ']\n' : '\n]\n');
    await write('', true);
  } finally {
    out.off('error', onError);
  }
  return n;
}
