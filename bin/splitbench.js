#!/usr/bin/env node
// The splitbench executable: runs the compiled CLI (built by `npm ci` / `npm run build` via `prepare`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// SQLite URI file names (for read-only opens of stores in folders this user cannot write; see src/store/sqlite.ts).
process.env.SQLITE_USE_URI ??= '1';
const entry = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write('splitbench: not built yet; run `npm run build` (npm ci does it through `prepare`)\n');
  process.exit(70);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
