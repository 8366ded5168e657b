/**
 * Writing a RequestSpec stream in any of the reader formats (used by `trace convert` and `trace synth`).
 * Output is deterministic (same stream → same bytes) and written to a temporary file renamed into place.
 * - azure: `TIMESTAMP,ContextTokens,GeneratedTokens`, 2024-style timestamps (µs, `+00:00`) from 2024-01-01 00:00:00 UTC;
 * - mooncake: `{"timestamp":ms,"input_length":..,"output_length":..,"hash_ids":[..]}`; hash_ids are kept when the
 *   source has them, otherwise fresh ids (one per 512-token block, never repeated: no shared prefixes);
 * - splitwise: `request_id,request_type,application_id,arrival_timestamp,batch_size,prompt_size,token_size`,
 *   request_id = row index, request_type 2, application_id 0, batch_size 1 (as SplitwiseSim's generator writes).
 */
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { ConfigError } from '../errors.js';
import { MOONCAKE_BLOCK_TOKENS, TRACE_FORMATS, getTraceReader } from './readers/index.js';
import { daysFromCivil, formatAzureTimestampUs } from './timestamp.js';
import type { RequestSpec } from './types.js';

interface Formatter {
  header: string | undefined;
  line(r: RequestSpec, i: number): string;
}

const AZURE_BASE_US = daysFromCivil(2024, 1, 1) * 86400 * 1e6;

function formatter(format: string): Formatter {
  switch (getTraceReader(format, '--to').name) {
    case 'azure':
      return {
        header: 'TIMESTAMP,ContextTokens,GeneratedTokens',
        line: (r) => `${formatAzureTimestampUs(AZURE_BASE_US + Math.round(r.arrival * 1e6))},${r.promptTokens},${r.outputTokens}`,
      };
    case 'mooncake': {
      let nextBlock = 0;
      return {
        header: undefined,
        line: (r) => {
          let ids = r.hashIds;
          if (!ids) {
            const n = Math.ceil(r.promptTokens / MOONCAKE_BLOCK_TOKENS);
            const fresh: number[] = new Array(n);
            for (let k = 0; k < n; k++) fresh[k] = nextBlock++;
            ids = fresh;
          }
          const ts = Math.round(r.arrival * 1e6) / 1e3;
          const session = r.sessionId !== undefined ? `,"session_id":${JSON.stringify(r.sessionId)}` : '';
          return `{"timestamp":${ts},"input_length":${r.promptTokens},"output_length":${r.outputTokens},"hash_ids":[${ids.join(',')}]${session}}`;
        },
      };
    }
    case 'splitwise':
      return {
        header: 'request_id,request_type,application_id,arrival_timestamp,batch_size,prompt_size,token_size',
        line: (r, i) => `${i},2,0,${r.arrival},1,${r.promptTokens},${r.outputTokens}`,
      };
    default:
      throw new ConfigError(`no writer for format '${format}'; known: ${TRACE_FORMATS.join(', ')}`, { path: '--to' });
  }
}

/** Writes `src` to `out` in `format`; returns the number of requests written. */
export async function writeTrace(src: AsyncIterable<RequestSpec>, format: string, out: string): Promise<number> {
  const f = formatter(format);
  const tmp = `${out}.tmp-${process.pid}`;
  const ws = createWriteStream(tmp);
  const failed = new Promise<never>((_, reject) => ws.once('error', reject));
  failed.catch(() => undefined);
  let buf: string[] = [];
  let size = 0;
  const flush = async (): Promise<void> => {
    if (!buf.length) return;
    const ok = ws.write(buf.join(''));
    buf = [];
    size = 0;
    if (!ok) await Promise.race([new Promise<void>((res) => ws.once('drain', () => res())), failed]);
  };
  let n = 0;
  try {
    if (f.header !== undefined) buf.push(`${f.header}\n`);
    for await (const r of src) {
      const l = `${f.line(r, n++)}\n`;
      buf.push(l);
      size += l.length;
      if (size >= 1 << 16) await flush();
    }
    await flush();
    await Promise.race([new Promise<void>((res) => ws.end(res)), failed]);
    await rename(tmp, out);
  } catch (e) {
    ws.destroy();
    await rm(tmp, { force: true });
    if ((e as NodeJS.ErrnoException).code && (e as NodeJS.ErrnoException).syscall) {
      throw new ConfigError(`cannot write ${out}: ${(e as Error).message}`, { path: '--out' });
    }
    throw e;
  }
  return n;
}
