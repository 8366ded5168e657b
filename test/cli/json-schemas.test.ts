/**
 * The `--json` envelope and the JSON Schemas shipped in schemas/ (one per command, validated with ajv):
 * every command that prints `--json` has a schema, the schemas compile under ajv's strict mode, and real
 * outputs of the commands (run here against a scratch store) validate against their command's schema.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import AjvModule from 'ajv';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { runCli } from './helpers.js';

// ajv is CommonJS: under NodeNext its class is the module's `default` export.
const Ajv = AjvModule.default;
type AjvType = InstanceType<typeof Ajv>;
const SCHEMAS = path.join(PACKAGE_ROOT, 'schemas');

function validator(): AjvType {
  const ajv = new Ajv({ strict: true, allErrors: true });
  for (const f of readdirSync(SCHEMAS).filter((x) => x.endsWith('.json'))) ajv.addSchema(JSON.parse(readFileSync(path.join(SCHEMAS, f), 'utf8')) as object);
  return ajv;
}

const schemaFile = (command: string): string => `${command.replace(/ /g, '-')}.json`;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sources(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

test('every command printing --json has a schema in schemas/, shipped in the package; all compile (ajv strict)', () => {
  const named = new Set<string>();
  for (const f of sources(path.join(PACKAGE_ROOT, 'src'))) {
    const text = readFileSync(f, 'utf8');
    for (const m of text.matchAll(/printJson\('([a-z -]+)'/g)) named.add(m[1]!);
    // A declared command (src/cli/define.ts) prints through `json(…)` under its name (default: its first word).
    for (const decl of text.split('defineCommand({').slice(1)) {
      const name = /\n {2}name: '([a-z -]+)'/.exec(decl)?.[1] ?? /\n {2}command: '([a-z-]+)/.exec(decl)?.[1];
      if (name !== undefined && /\bjson\(/.test(decl)) named.add(name);
    }
  }
  assert.ok(named.size >= 15, `found ${named.size} commands printing --json`);
  const files = new Set(readdirSync(SCHEMAS));
  for (const c of named) assert.ok(files.has(schemaFile(c)), `schemas/${schemaFile(c)} for \`${c} --json\``);
  const ajv = validator();
  for (const f of files) assert.ok(ajv.getSchema(f), `${f} compiles`);
  const pkg = JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { files: string[] };
  assert.ok(pkg.files.includes('schemas/'), 'package.json files lists schemas/');
});

test('real --json outputs validate against their command schema; a bare (pre-envelope) output does not', { timeout: 300_000 }, async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sb-schemas-'));
  const db = path.join(dir, 's.db');
  const syn = path.join(dir, 'syn.csv');
  const gguf = path.join(dir, 'm.gguf');
  const runs: [string, string[]][] = [
    ['sim', ['sim', '--trace', 'coding', '--limit', '30', '--db', db, '--name', 'a', '--json']],
    ['sim', ['sim', '--trace', 'coding', '--limit', '20', '--db', db, '--name', 'b', '--seeds', '2', '--json']],
    ['summary', ['summary', '--run', 'a', '--db', db, '--json']],
    ['gate', ['gate', '--slo', 'splitwise', '--run', 'a', '--db', db, '--allow-saturated', '--json']],
    ['runs list', ['runs', 'list', '--db', db, '--json']],
    ['runs show', ['runs', 'show', 'a', '--db', db, '--json']],
    ['runs delete', ['runs', 'delete', 'b-s1', '--db', db, '--json']],
    ['trace stats', ['trace', 'stats', 'coding', '--json']],
    ['trace synth', ['trace', 'synth', '--like', 'coding', '--rate', '2', '--duration', '10', '--out', syn, '--json']],
    ['trace convert', ['trace', 'convert', syn, '--to', 'splitwise', '--out', path.join(dir, 'syn2.csv'), '--json']],
    ['model make', ['model', 'make', '--shape', 'tiny', '--out', gguf, '--json']],
    ['model info', ['model', 'info', gguf, '--json']],
    [
      'sweep',
      ['sweep', '--trace', 'coding', '--deployment', 'baseline-h100', '--rates', '1:2:1', '--duration', '10', '--db', path.join(dir, 'w.db'), '--json'],
    ],
    ['replay', ['replay', '--trace', 'coding', '--limit', '5', '--time-scale', '50', '--db', path.join(dir, 'r.db'), '--json']],
  ];
  const ajv = validator();
  for (const [command, args] of runs) {
    const r = await runCli(args);
    // gate prints its verdicts as JSON whether the rules hold (0) or not (1).
    assert.ok(r.code === 0 || (command === 'gate' && r.code === 1), `${args.join(' ')}: exit ${r.code}: ${r.stderr}`);
    const out = JSON.parse(r.stdout) as { command: string; result: unknown };
    assert.equal(out.command, command);
    const validate = ajv.getSchema(schemaFile(command))!;
    assert.ok(validate(out), `${command}: ${ajv.errorsText(validate.errors)}`);
    assert.equal(validate({ splitbench: '0.0.0', command, result: 'not a result' }), false, `${command}: the schema checks result`);
    assert.equal(validate(out.result), false, `${command}: a bare result (the old shape) is not an envelope`);
  }
});
