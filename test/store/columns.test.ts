import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openStore } from '../../src/store/store.js';
import { connectionOf } from '../../src/store/store.js';
import { columnDocs, renderColumnDocs, TABLES, type Column } from '../../src/store/columns.js';
import { EXPORT_COLUMNS } from '../../src/store/export.js';
import { REQUEST_COLUMNS } from '../../src/store/store.js';
import { repoRoot, SCHEMA_PAGES } from '../tools/schema-docs.js';

test('the column table is the migrated schema: every table, column order, declared type, NOT NULL', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sb-columns-'));
  const store = openStore(path.join(dir, 's.db'));
  try {
    const db = connectionOf(store);
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all() as string[]).sort();
    assert.deepEqual(tables, Object.keys(TABLES).sort(), 'one column table per store table');
    for (const [table, cols] of Object.entries(TABLES) as [string, readonly Column[]][]) {
      const info = db.prepare(`PRAGMA table_info(${table})`).all() as { name: string; type: string; notnull: number }[];
      assert.deepEqual(
        cols.map((c) => [c.name, c.sql.replace(/\s*NOT NULL/, ''), /NOT NULL/.test(c.sql) ? 1 : 0]),
        info.map((c) => [c.name, c.type, c.notnull]),
        `${table}: columns as the migrations create them`,
      );
      assert.equal(new Set(cols.map((c) => c.field)).size, cols.length, `${table}: one field per column`);
    }
  } finally {
    store.close();
  }
});

test('the insert and export column lists come from the column table', () => {
  assert.deepEqual(
    REQUEST_COLUMNS,
    TABLES.requests.map((c) => c.name),
  );
  assert.deepEqual(
    EXPORT_COLUMNS.slice(0, -2),
    TABLES.requests.filter((c) => c.name !== 'token_times').map((c) => c.name),
  );
  assert.deepEqual(EXPORT_COLUMNS.slice(-2), ['chunk_times_s', 'chunk_tokens']);
});

test('the docs carry every table generated from the column table (npm run docs:schema rewrites them)', () => {
  const seen = new Set<string>();
  for (const page of SCHEMA_PAGES) {
    const text = readFileSync(path.join(repoRoot, page), 'utf8');
    assert.equal(renderColumnDocs(text), text, `${page} is out of date with src/store/columns.ts: run npm run docs:schema`);
    for (const m of text.matchAll(/<!-- columns:([a-z_]+) -->/g)) seen.add(m[1]!);
  }
  assert.deepEqual([...seen].sort(), Object.keys(TABLES).sort(), 'every table is documented');
  assert.match(columnDocs('requests'), /\| `warmup` \| INTEGER NOT NULL \(0\/1\) \| `warmup` \| 1 for a warm-up request \|/);
});
