/** Shared CLI output helpers: JSON for machines, aligned tables for people. */
import type { RESULTS_FLAGS } from '../flags.js';
import type { FlagValues } from '../flagspec.js';

export { type JsonEnvelope, jsonEnvelope, printJson } from '../envelope.js';

/** Render rows as an aligned text table (first row = header). Numbers are right-aligned. */
export function formatTable(rows: readonly (readonly (string | number | null | undefined)[])[]): string {
  const cells = rows.map((r) => r.map((c) => (c === null || c === undefined ? '-' : String(c))));
  const widths: number[] = [];
  for (const r of cells)
    r.forEach((c, i) => {
      widths[i] = Math.max(widths[i] ?? 0, c.length);
    });
  const numeric = (s: string): boolean => /^-?[\d.,]+(e-?\d+)?\s?[a-zµ%/]*$/i.test(s);
  return cells
    .map((r, ri) =>
      r
        .map((c, i) => (ri > 0 && numeric(c) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function printTable(rows: readonly (readonly (string | number | null | undefined)[])[]): void {
  process.stdout.write(`${formatTable(rows)}\n`);
}

/** The reading options of the commands that summarise stored runs, from their RESULTS_FLAGS (src/flags.ts). */
export function resultsReading(f: FlagValues<typeof RESULTS_FLAGS>): {
  db: string;
  percentileMethod: 'linear' | 'nearest-rank';
  referenceRun?: string;
  referenceMachine?: string;
} {
  return {
    db: f.db,
    percentileMethod: f.percentiles,
    ...(f.referenceRun === undefined ? {} : { referenceRun: f.referenceRun }),
    ...(f.referenceMachine === undefined ? {} : { referenceMachine: f.referenceMachine }),
  };
}
