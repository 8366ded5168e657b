/**
 * The architecture rules of the design, checked on the source tree:
 * - the dependency arrows (dependency-cruiser over src/): the engine depends on nothing but its own folder
 *   (and the shared error types), imports no file, process, network or timer module; nothing below the CLI
 *   imports the CLI; the trace, config and store folders sit below their readers; only src/store opens SQLite;
 * - what an import graph cannot see (a scan of the TypeScript syntax tree): no `Date`, timers or monotonic
 *   clock reads under src/engine (it gets a `Clock`), and no SQL text outside src/store.
 *
 * A rule broken today by work in flight on another branch has a named entry in an allowlist below; an entry
 * that no longer matches anything fails the test too, so the list only shrinks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cruise, type IForbiddenRuleType } from 'dependency-cruiser';
import ts from 'typescript';

/** The repository root (this file runs as dist/test/architecture.test.js). */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Folders of src/ (one per concept) other than the one a rule is about. */
const folders = (...except: string[]): string =>
  `^src/(${['cli', 'config', 'trace', 'engine', 'server', 'sim', 'load', 'store', 'metrics', 'telemetry', 'cost', 'report', 'scale', 'worker'].filter((f) => !except.includes(f)).join('|')})/`;

const RULES: IForbiddenRuleType[] = [
  {
    name: 'engine-is-a-leaf',
    comment: 'the engine depends on nothing but its own folder, the shared error types (src/errors.ts) and array growth (src/capacity.ts)',
    severity: 'error',
    from: { path: '^src/engine/' },
    to: { path: '^src/', pathNot: ['^src/engine/', '^src/errors\\.ts$', '^src/capacity\\.ts$'] },
  },
  {
    name: 'engine-does-no-io',
    comment: 'the engine reads no files, starts no processes, opens no sockets and sets no timers: all of that is handed in',
    severity: 'error',
    from: { path: '^src/engine/' },
    to: {
      dependencyTypes: ['core'],
      path: '^(node:)?(fs|fs/promises|timers|timers/promises|child_process|worker_threads|net|http|https|http2|dgram|dns|readline)$',
    },
  },
  {
    name: 'config-is-below-its-readers',
    comment: 'src/config reads the files the engine is handed (catalogs, deployments, profiles): it knows the engine, nothing else',
    severity: 'error',
    from: { path: '^src/config/' },
    to: { path: folders('config', 'engine') },
  },
  {
    name: 'sqlite-only-in-store',
    comment: 'src/store is the only module that knows SQL: the others call its methods',
    severity: 'error',
    from: { path: '^src/', pathNot: '^src/store/' },
    to: { path: 'node_modules/better-sqlite3/' },
  },
  {
    name: 'nothing-imports-the-cli',
    comment: 'cli → everything: the command layer is on top, libraries never reach up into it',
    severity: 'error',
    from: { path: '^src/', pathNot: '^src/cli/' },
    to: { path: '^src/cli/' },
  },
  {
    name: 'trace-is-a-source',
    comment: 'the request source depends on no other folder (load → trace, sim → trace, never back)',
    severity: 'error',
    from: { path: '^src/trace/' },
    // The one exception: the distribution class is a leaf (it imports only hdr-histogram-js), so trace
    // statistics are exact by the same rules as every other percentile splitbench prints.
    to: { path: folders('trace'), pathNot: '^src/metrics/histogram\\.ts$' },
  },
  {
    name: 'store-is-below-its-readers',
    comment: 'load, metrics, report, scale and the CLI read and write through the store; the store needs none of them',
    severity: 'error',
    from: { path: '^src/store/' },
    // The one exception: the formulas module is a pure leaf (it imports nothing), shared by the recorder's
    // derived columns and the readers, so the store computes its columns with the readers' own formulas.
    to: { path: folders('store'), pathNot: '^src/metrics/formulas\\.ts$' },
  },
  {
    name: 'results-read-only-the-store',
    comment: 'report and metrics read rows from the store (prices from cost, slowdown references from the engine); they never drive a run',
    severity: 'error',
    from: { path: '^src/(report|metrics)/' },
    to: { path: '^src/(cli|server|sim|load|telemetry|scale|worker|trace)/' },
  },
];

interface Allowed {
  readonly rule: string;
  readonly from: string;
  readonly to: string;
}

/**
 * Temporary: arrows that break a rule today. Each group says why and who removes it; remove an entry when its
 * file stops breaking the rule (the test then says which entries are stale).
 */
const ALLOWED_ARROWS: readonly Allowed[] = [];

/** Temporary: files outside src/store that still hold SQL text (same reason as the better-sqlite3 entries above). */
const ALLOWED_SQL_FILES: readonly string[] = [];

const key = (a: Allowed): string => `${a.rule}: ${a.from} → ${a.to}`;

/** Every .ts file under `dir` (relative to the root, forward slashes). */
function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(path.join(ROOT, d), { withFileTypes: true })) {
      const p = `${d}/${e.name}`;
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
    }
  };
  walk(dir);
  return out.sort();
}

/** Visit every node of a file's syntax tree. */
function visit(file: string, f: (node: ts.Node, sf: ts.SourceFile) => void): void {
  const sf = ts.createSourceFile(file, fs.readFileSync(path.join(ROOT, file), 'utf8'), ts.ScriptTarget.ES2022, true);
  const walk = (n: ts.Node): void => {
    f(n, sf);
    n.forEachChild(walk);
  };
  walk(sf);
}

const where = (sf: ts.SourceFile, n: ts.Node): string => `${sf.fileName}:${sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1}`;

test('dependency arrows: the never-arrows of the design hold (dependency-cruiser)', async () => {
  const { output } = await cruise(
    ['src'],
    {
      baseDir: ROOT,
      validate: true,
      ruleSet: { forbidden: RULES },
      tsConfig: { fileName: 'tsconfig.json' },
      tsPreCompilationDeps: true,
      doNotFollow: { path: 'node_modules' },
    },
    {},
    { tsConfig: { compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext' } } },
  );
  assert.ok(typeof output !== 'string', 'the cruise returns a result object');
  assert.ok(output.summary.totalCruised > 100, `cruised ${output.summary.totalCruised} modules: the whole of src/`);
  const found = output.summary.violations.map((v) => ({ rule: v.rule.name, from: v.from, to: v.to }));
  const allowed = new Set(ALLOWED_ARROWS.map(key));
  const broken = found
    .filter((v) => !allowed.has(key(v)))
    .map((v) => {
      const rule = RULES.find((r) => r.name === v.rule);
      return `${key(v)} (${rule?.comment ?? ''})`;
    });
  assert.deepEqual(broken, [], `forbidden dependencies:\n${broken.join('\n')}`);
  const present = new Set(found.map(key));
  const stale = ALLOWED_ARROWS.map(key).filter((k) => !present.has(k));
  assert.deepEqual(stale, [], `allowlist entries that no longer break their rule (remove them):\n${stale.join('\n')}`);
});

/** Globals that read the wall or monotonic clock or schedule work. */
const ENGINE_FORBIDDEN_GLOBALS = new Set([
  'Date',
  'setTimeout',
  'setInterval',
  'setImmediate',
  'clearTimeout',
  'clearInterval',
  'clearImmediate',
  'queueMicrotask',
  'performance',
]);

test('src/engine reads no clock and sets no timer: it asks its Clock', () => {
  const found: string[] = [];
  for (const file of sourceFiles('src/engine')) {
    visit(file, (n, sf) => {
      if (ts.isIdentifier(n) && ENGINE_FORBIDDEN_GLOBALS.has(n.text)) {
        // A name used as a property (`x.performance`, `{ Date: … }`) or a type is not the global.
        const p = n.parent;
        const isProperty =
          (ts.isPropertyAccessExpression(p) && p.name === n) ||
          (ts.isPropertyAssignment(p) && p.name === n) ||
          ts.isPropertySignature(p) ||
          ts.isMethodDeclaration(p);
        if (!isProperty && !ts.isTypeReferenceNode(p)) found.push(`${where(sf, n)}: ${n.text}`);
      }
      if (ts.isPropertyAccessExpression(n) && ts.isIdentifier(n.expression) && n.expression.text === 'process' && n.name.text === 'hrtime')
        found.push(`${where(sf, n)}: process.hrtime`);
    });
  }
  assert.deepEqual(found, [], `wall clock or timers under src/engine:\n${found.join('\n')}`);
});

/** SQL statements as they are written in this code base: a keyword pair at the start of a statement. */
const SQL =
  /\b(SELECT\s[\s\S]*?\bFROM\b|INSERT\s+(OR\s+\w+\s+)?INTO\b|UPDATE\s+\w+\s+SET\b|DELETE\s+FROM\b|CREATE\s+(TEMP\s+|UNIQUE\s+)?(TABLE|INDEX|VIEW|TRIGGER)\b|DROP\s+(TABLE|INDEX|VIEW)\b|ALTER\s+TABLE\b|PRAGMA\s+\w|ATTACH\s+DATABASE\b)/;

test('no SQL outside src/store: every query is a store method', () => {
  const found = new Map<string, string>();
  for (const file of sourceFiles('src')) {
    if (file.startsWith('src/store/')) continue;
    visit(file, (n, sf) => {
      if (found.has(file)) return;
      const text = ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n) ? n.text : ts.isTemplateExpression(n) ? n.getText(sf) : undefined;
      if (text !== undefined && SQL.test(text)) found.set(file, `${where(sf, n)}: ${text.slice(0, 80)}`);
    });
  }
  const broken = [...found].filter(([f]) => !ALLOWED_SQL_FILES.includes(f)).map(([, w]) => w);
  assert.deepEqual(broken, [], `SQL outside src/store:\n${broken.join('\n')}`);
  const stale = ALLOWED_SQL_FILES.filter((f) => !found.has(f));
  assert.deepEqual(stale, [], `allowlisted files that no longer hold SQL (remove them): ${stale.join(', ')}`);
});

/** The functions of src/config that read files (catalogs, deployments, profiles): called at the edge only. */
const CONFIG_LOADERS = [
  'loadCatalog',
  'loadDeployment',
  'listDeployments',
  'resolveDeploymentFile',
  'loadProfiles',
  'loadProfileFile',
  'writeSplitwiseProfiles',
  'loadEngineData',
  'simEngineData',
  'loadSimInput',
];

test('the engine and the simulator load nothing: no src/config loader is called under src/engine or src/sim', () => {
  const exported = new Set<string>();
  for (const file of sourceFiles('src/config')) {
    visit(file, (n) => {
      if (ts.isFunctionDeclaration(n) && n.name && n.modifiers?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword)) exported.add(n.name.text);
    });
  }
  const unknown = CONFIG_LOADERS.filter((f) => !exported.has(f));
  assert.deepEqual(unknown, [], `CONFIG_LOADERS names functions src/config no longer exports: ${unknown.join(', ')}`);
  const loaders = new Set(CONFIG_LOADERS);
  const found: string[] = [];
  for (const file of [...sourceFiles('src/engine'), ...sourceFiles('src/sim')]) {
    visit(file, (n, sf) => {
      if (!ts.isCallExpression(n)) return;
      const callee = ts.isPropertyAccessExpression(n.expression) ? n.expression.name : n.expression;
      if (ts.isIdentifier(callee) && loaders.has(callee.text)) found.push(`${where(sf, n)}: ${callee.text}()`);
    });
  }
  assert.deepEqual(found, [], `loaders called below the edge (load in src/cli and hand the data in):\n${found.join('\n')}`);
});
