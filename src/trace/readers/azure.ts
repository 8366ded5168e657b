/**
 * Azure LLM inference trace CSV (AzurePublicDataset): `TIMESTAMP,ContextTokens,GeneratedTokens`, one row per
 * request. 2023 files: `2023-11-16 18:17:03.9799600`; 2024 files: `2024-05-10 00:00:00.012345+00:00` with
 * varying fractional precision. Columns are found by header name (any order, case-insensitive).
 */
import { parseAzureTimestampBytes, parseAzureTimestampUs } from '../timestamp.js';
import {
  RowError,
  clip,
  field,
  headerIndex,
  parseCount,
  parseCountBytes,
  requireColumns,
  splitCsv,
  type FormatParser,
  type RawRow,
  type TraceReader,
} from './common.js';

const EXPECTED = 'TIMESTAMP,ContextTokens,GeneratedTokens';

export const azureReader: TraceReader = {
  name: 'azure',
  description: 'Azure LLM inference trace CSV (TIMESTAMP,ContextTokens,GeneratedTokens; 2023 and 2024 timestamp forms)',
  sniff(first: string): boolean {
    const h = first.toLowerCase();
    // Loose on purpose: a header with a missing column is then reported by name.
    return h.includes('timestamp') && (h.includes('contexttokens') || h.includes('generatedtokens'));
  },
  createParser(): FormatParser {
    let iT = 0,
      iP = 1,
      iO = 2;
    let simple = false;
    let baseS = NaN; // times are µs since the first row's whole second, so 100-ns digits survive
    return {
      unitsPerSecond: 1e6,
      timeField: 'TIMESTAMP',
      hasHeader: true,
      header(line: string): void {
        [iT, iP, iO] = requireColumns(headerIndex(line), ['TIMESTAMP', 'ContextTokens', 'GeneratedTokens'], EXPECTED);
        simple = iT === 0 && iP === 1 && iO === 2;
      },
      rowBytes(b: Uint8Array, start: number, end: number, out: RawRow): boolean {
        if (!simple) return false;
        let c1 = -1,
          c2 = -1,
          c3 = end;
        for (let i = start; i < end; i++) {
          const ch = b[i];
          if (ch === 44) {
            if (c1 < 0) c1 = i;
            else if (c2 < 0) c2 = i;
            else {
              c3 = i;
              break;
            }
          } else if (ch === 34) return false; // quoting: the csv-parse path
        }
        if (c2 < 0) return false; // too few fields: the string path names the missing one
        if (Number.isNaN(baseS)) {
          const abs = parseAzureTimestampBytes(b, start, c1);
          if (!Number.isNaN(abs)) baseS = Math.floor(abs / 1e6);
        }
        const us = parseAzureTimestampBytes(b, start, c1, Number.isNaN(baseS) ? 0 : baseS);
        if (Number.isNaN(us)) return false; // the string path reports it
        out.time = us;
        out.prompt = parseCountBytes(b, c1 + 1, c2, 'ContextTokens');
        out.output = parseCountBytes(b, c2 + 1, c3, 'GeneratedTokens');
        return true;
      },
      row(line: string, out: RawRow): void {
        const f = splitCsv(line);
        const ts = field(f, iT, 'TIMESTAMP');
        const p = field(f, iP, 'ContextTokens');
        const o = field(f, iO, 'GeneratedTokens');
        if (Number.isNaN(baseS)) {
          const abs = parseAzureTimestampUs(ts.trim());
          if (!Number.isNaN(abs)) baseS = Math.floor(abs / 1e6);
        }
        const us = parseAzureTimestampUs(ts.trim(), Number.isNaN(baseS) ? 0 : baseS);
        if (Number.isNaN(us))
          throw new RowError('TIMESTAMP', `not a timestamp: '${clip(ts)}' (expected e.g. 2023-11-16 18:17:03.9799600 or 2024-05-10 00:00:00.01+00:00)`);
        out.time = us;
        out.prompt = parseCount(p, 'ContextTokens');
        out.output = parseCount(o, 'GeneratedTokens');
      },
    };
  },
};
