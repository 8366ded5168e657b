/** Shared CLI output helpers: JSON for machines, aligned tables for people. */
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

/** The `--percentiles` flag of every command that summarises stored rows (one definition, one help text). */
export const PERCENTILES_OPTION = {
  type: 'string',
  choices: ['linear', 'nearest-rank'],
  default: 'linear',
  describe: 'how percentiles are read off the stored values (both exact): linear interpolation (numpy default) or nearest rank',
  requiresArg: true,
} as const;
