/** The registry of trace readers, keyed by format name (`--format NAME`). */
import { ConfigError } from '../../errors.js';
import { azureReader } from './azure.js';
import { mooncakeReader } from './mooncake.js';
import { splitwiseReader } from './splitwise.js';
import type { TraceReader } from './common.js';

export type { TraceReader, FormatParser, RawRow, ReadOptions } from './common.js';
export { readTraceBatches, RowError } from './common.js';
export { MOONCAKE_BLOCK_TOKENS } from './mooncake.js';

export const traceReaders: Readonly<Record<string, TraceReader>> = Object.freeze({
  azure: azureReader,
  mooncake: mooncakeReader,
  splitwise: splitwiseReader,
});

/** Longer names accepted for the same readers. */
const ALIASES: Readonly<Record<string, string>> = { 'azure-csv': 'azure', 'mooncake-jsonl': 'mooncake', 'splitwise-csv': 'splitwise' };

export const TRACE_FORMATS: readonly string[] = Object.keys(traceReaders);

/** The reader named `name` (or an alias); a ConfigError listing the known names otherwise. */
export function getTraceReader(name: string, flag = '--format'): TraceReader {
  const key = name.trim().toLowerCase();
  const r = traceReaders[key] ?? traceReaders[ALIASES[key] ?? ''];
  if (!r) throw new ConfigError(`unknown trace format '${name}'; known: ${TRACE_FORMATS.join(', ')}`, { path: flag });
  return r;
}

/** The reader whose sniff accepts this first line, if any (in registry order). */
export function detectTraceReader(firstLine: string): TraceReader | undefined {
  for (const name of TRACE_FORMATS) {
    const r = traceReaders[name]!;
    if (r.sniff(firstLine)) return r;
  }
  return undefined;
}
