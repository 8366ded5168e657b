/**
 * Azure LLM inference trace CSV (AzurePublicDataset): `TIMESTAMP,ContextTokens,GeneratedTokens`, one row per
 * request. 2023 files: `2023-11-16 18:17:03.9799600`; 2024 files: `2024-05-10 00:00:00.012345+00:00` with
 * varying fractional precision. Columns are found by header name (any order, case-insensitive).
 */
import { parseAzureTimestampUs } from '../timestamp.js';
import { RowError, clip, field, headerIndex, parseCount, requireColumn, splitCsv, type FormatParser, type RawRow, type TraceReader } from './common.js';

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
    let iT = 0, iP = 1, iO = 2;
    let simple = false;
    let baseS = NaN; // times are µs since the first row's whole second, so 100-ns digits survive
    return {
      unitsPerSecond: 1e6,
      timeField: 'TIMESTAMP',
      hasHeader: true,
      header(line: string): void {
        const cols = headerIndex(line);
        iT = requireColumn(cols, 'TIMESTAMP', EXPECTED);
        iP = requireColumn(cols, 'ContextTokens', EXPECTED);
        iO = requireColumn(cols, 'GeneratedTokens', EXPECTED);
        simple = iT === 0 && iP === 1 && iO === 2;
      },
      row(line: string, out: RawRow): void {
        let ts: string, p: string, o: string;
        const c1 = simple && line.indexOf('"') < 0 ? line.indexOf(',') : -1;
        const c2 = c1 >= 0 ? line.indexOf(',', c1 + 1) : -1;
        if (c2 >= 0) {
          // Fast path for the common 3-column layout without quoting.
          const c3 = line.indexOf(',', c2 + 1);
          ts = line.slice(0, c1);
          p = line.slice(c1 + 1, c2);
          o = c3 < 0 ? line.slice(c2 + 1) : line.slice(c2 + 1, c3);
        } else {
          const f = splitCsv(line);
          ts = field(f, iT, 'TIMESTAMP');
          p = field(f, iP, 'ContextTokens');
          o = field(f, iO, 'GeneratedTokens');
        }
        if (Number.isNaN(baseS)) {
          const abs = parseAzureTimestampUs(ts.trim());
          if (!Number.isNaN(abs)) baseS = Math.floor(abs / 1e6);
        }
        const us = parseAzureTimestampUs(ts.trim(), Number.isNaN(baseS) ? 0 : baseS);
        if (Number.isNaN(us)) throw new RowError('TIMESTAMP', `not a timestamp: '${clip(ts)}' (expected e.g. 2023-11-16 18:17:03.9799600 or 2024-05-10 00:00:00.01+00:00)`);
        out.time = us;
        out.prompt = parseCount(p, 'ContextTokens');
        out.output = parseCount(o, 'GeneratedTokens');
      },
    };
  },
};
