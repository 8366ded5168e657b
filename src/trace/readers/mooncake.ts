/**
 * Mooncake trace JSONL: one JSON object per line, `{"timestamp": ms, "input_length": n, "output_length": n,
 * "hash_ids": [..]}` (hash_ids: one id per 512-token prefix block). A session or conversation id is kept when a
 * line carries one (`session_id`, `conversation_id` or `chat_id`).
 */
import { RowError, clip, type FormatParser, type RawRow, type TraceReader } from './common.js';

export const MOONCAKE_BLOCK_TOKENS = 512;

const SESSION_KEYS = ['session_id', 'conversation_id', 'chat_id'] as const;

function count(v: unknown, name: string, required: boolean): number {
  if (v === undefined || v === null) {
    if (required) throw new RowError(name, 'missing field');
    return 0;
  }
  if (typeof v === 'string' && v.trim() !== '') v = Number(v);
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new RowError(name, `not a number: ${clip(JSON.stringify(v))}`);
  if (v < 0) throw new RowError(name, `negative value: ${v}`);
  return v;
}

export const mooncakeReader: TraceReader = {
  name: 'mooncake',
  description: 'Mooncake trace JSONL (timestamp in ms, input_length, output_length, hash_ids of 512-token blocks)',
  sniff(first: string): boolean {
    return first.trimStart().startsWith('{');
  },
  createParser(): FormatParser {
    return {
      unitsPerSecond: 1000,
      timeField: 'timestamp',
      hasHeader: false,
      header(): void {},
      row(line: string, out: RawRow): void {
        let o: unknown;
        try {
          o = JSON.parse(line);
        } catch (e) {
          throw new RowError(undefined, `bad JSON: ${(e as Error).message}`);
        }
        if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new RowError(undefined, 'bad JSON line: expected an object');
        const r = o as Record<string, unknown>;
        out.time = count(r.timestamp, 'timestamp', true);
        const p = count(r.input_length, 'input_length', true);
        const q = count(r.output_length, 'output_length', true);
        if (!Number.isInteger(p)) throw new RowError('input_length', `not a whole number of tokens: ${p}`);
        if (!Number.isInteger(q)) throw new RowError('output_length', `not a whole number of tokens: ${q}`);
        out.prompt = p;
        out.output = q;
        const h = r.hash_ids;
        if (h !== undefined && h !== null) {
          if (!Array.isArray(h)) throw new RowError('hash_ids', 'expected an array of block ids');
          for (const x of h)
            if (typeof x !== 'number' || !Number.isInteger(x)) throw new RowError('hash_ids', `not an integer block id: ${clip(JSON.stringify(x))}`);
          out.hashIds = h as number[];
        }
        for (const k of SESSION_KEYS) {
          const s = r[k];
          if (s !== undefined && s !== null) {
            if (typeof s !== 'string' && typeof s !== 'number') throw new RowError(k, 'expected a string or number');
            out.sessionId = String(s);
            break;
          }
        }
      },
    };
  },
};
