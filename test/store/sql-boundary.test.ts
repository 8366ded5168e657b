import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../tools/schema-docs.js';

/** Every .ts file under a folder. */
function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = path.join(dir, n);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

const SQLITE_IMPORT = /from\s+['"](better-sqlite3|[./]*store\/(sqlite|store|shards|bulk-worker)\.js)['"]|import\(\s*['"]better-sqlite3['"]\s*\)/;
const SQL =
  /['"`][^'"`\n]*\b(SELECT\s+[\w*"(]|INSERT\s+(OR\s+\w+\s+)?INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+(TEMP\s+)?TABLE|ATTACH\s+DATABASE|PRAGMA\s+\w)/;

test('only src/store knows SQL: no SQLite import and no SQL text in any other source file', () => {
  const src = path.join(repoRoot, 'src');
  const bad: string[] = [];
  for (const f of sources(src)) {
    if (f.startsWith(path.join(src, 'store') + path.sep)) continue;
    readFileSync(f, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        if (SQLITE_IMPORT.test(line) || SQL.test(line)) bad.push(`${path.relative(repoRoot, f)}:${i + 1}: ${line.trim()}`);
      });
  }
  assert.deepEqual(bad, [], 'SQL belongs in src/store; call a store method instead');
});

test('the SQL boundary check sees the SQL it forbids', () => {
  assert.ok(SQL.test("db.prepare('SELECT id FROM runs WHERE uuid = ?')"));
  assert.ok(SQL.test('`INSERT OR IGNORE INTO main.machines (run_id) SELECT 1`'));
  assert.ok(SQL.test("db.prepare('UPDATE runs SET name = ? WHERE id = ?')"));
  assert.ok(SQLITE_IMPORT.test("import Database from 'better-sqlite3';"));
  assert.ok(SQLITE_IMPORT.test("import { SqliteDb } from '../store/sqlite.js';"));
  assert.ok(!SQL.test("log('select a run with --run')"));
});
