/**
 * Rewrite the generated column tables of the docs (`<!-- columns:TABLE -->` blocks) from the store's column
 * table: `npm run docs:schema`. test/store/columns.test.ts fails when a page is out of date.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderColumnDocs } from '../../src/store/columns.js';

/** The pages that carry generated column tables. */
export const SCHEMA_PAGES = ['docs/store.md'];

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  for (const page of SCHEMA_PAGES) {
    const file = path.join(repoRoot, page);
    const before = readFileSync(file, 'utf8');
    const after = renderColumnDocs(before);
    if (after !== before) writeFileSync(file, after);
    process.stdout.write(`${page}: ${after === before ? 'up to date' : 'rewritten'}\n`);
  }
}
