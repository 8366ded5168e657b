/**
 * SplitwiseSim trace CSV: `request_id,request_type,application_id,arrival_timestamp,batch_size,prompt_size,token_size`
 * (arrival in seconds; pandas may write ids as floats such as `1024.0`, and may add an unnamed index column).
 * Only arrival_timestamp, prompt_size and token_size are required; request_id, when present, becomes the id.
 */
import {
  RowError,
  clip,
  field,
  headerIndex,
  parseCount,
  parseNonNegative,
  requireColumns,
  splitCsv,
  type FormatParser,
  type RawRow,
  type TraceReader,
} from './common.js';

const EXPECTED = 'request_id,request_type,application_id,arrival_timestamp,batch_size,prompt_size,token_size';

/** `1024.0` → `1024`; other ids are kept as written (trimmed). */
export function normaliseId(s: string): string {
  const t = s.trim();
  const m = /^(-?\d+)\.0*$/.exec(t);
  return m ? m[1]! : t;
}

export const splitwiseReader: TraceReader = {
  name: 'splitwise',
  description: 'SplitwiseSim trace CSV (request_id,...,arrival_timestamp,...,prompt_size,token_size; arrival in s)',
  sniff(first: string): boolean {
    const h = first.toLowerCase();
    // Loose on purpose: a header with a missing column is then reported by name.
    return !h.trimStart().startsWith('{') && (h.includes('arrival_timestamp') || (h.includes('prompt_size') && h.includes('token_size')));
  },
  createParser(): FormatParser {
    let iId = -1,
      iT = 0,
      iP = 0,
      iO = 0;
    return {
      unitsPerSecond: 1,
      timeField: 'arrival_timestamp',
      hasHeader: true,
      header(line: string): void {
        const cols = headerIndex(line);
        [iT, iP, iO] = requireColumns(cols, ['arrival_timestamp', 'prompt_size', 'token_size'], EXPECTED);
        iId = cols.get('request_id') ?? -1;
      },
      row(line: string, out: RawRow): void {
        const f = splitCsv(line);
        out.time = parseNonNegative(field(f, iT, 'arrival_timestamp'), 'arrival_timestamp');
        out.prompt = parseCount(field(f, iP, 'prompt_size'), 'prompt_size');
        out.output = parseCount(field(f, iO, 'token_size'), 'token_size');
        if (iId >= 0) {
          const id = normaliseId(field(f, iId, 'request_id'));
          if (id === '') throw new RowError('request_id', 'empty value');
          out.id = clip(id, 200);
        }
      },
    };
  },
};
