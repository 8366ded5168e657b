/**
 * The bundled snapshot (src/config/snapshot.ts) holds exactly what the bundled catalog, profile and SplitwiseSim
 * files load to with their full checks, and the loaders use it for the bundled folders only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  DEFAULT_CATALOG_DIR,
  DEFAULT_PROFILES_DIR,
  DEPLOYMENTS_DIR,
  listDeployments,
  loadCatalog,
  loadDeployment,
  loadProfiles,
  parseDeployment,
  readSplitwiseRows,
  SPLITWISE_CSV,
} from '../../src/config/index.js';
import type { DeploymentOverrides } from '../../src/engine/index.js';
import { DEFAULT_PRICES_FILE, loadPrices, parsePrices } from '../../src/cost/prices.js';
import { BUNDLED_SNAPSHOT, bundledSnapshot, bundledTraceSizes, readSnapshot, sourcesDigest } from '../../src/config/snapshot.js';
import { WORKLOADS_DIR } from '../../src/paths.js';
import { BUNDLED_TRACES, createRng, openTrace, sizeSamplerFromBatches, traceSampler } from '../../src/trace/index.js';
import { renderBundledSnapshot } from '../tools/bundled-data.js';

test('workloads/bundled.json is what its sources load to (else: npm run data:bundled)', async () => {
  assert.equal(fs.readFileSync(BUNDLED_SNAPSHOT, 'utf8'), await renderBundledSnapshot(), 'stale snapshot: run `npm run data:bundled`');
  assert.ok(bundledSnapshot(), 'the loaders read it');
});

test('a snapshot whose sources changed is not read: an edited, added or removed bundled file wins', () => {
  const workloads = path.dirname(BUNDLED_SNAPSHOT);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-snapshot-'));
  try {
    for (const s of ['catalog', 'profiles', 'deployments', 'prices.yaml', 'bundled.json'])
      fs.cpSync(path.join(workloads, s), path.join(dir, s), { recursive: true });
    const file = path.join(dir, 'bundled.json');
    assert.equal(sourcesDigest(dir), sourcesDigest(), 'a copy digests the same');
    assert.ok(readSnapshot(file, dir), 'an unchanged copy reads its snapshot');
    const dep = path.join(dir, 'deployments', `${listDeployments()[0]}.yaml`);
    const text = fs.readFileSync(dep, 'utf8');
    fs.writeFileSync(dep, `${text}# edited\n`);
    assert.equal(readSnapshot(file, dir), undefined, 'an edited deployment');
    fs.writeFileSync(dep, text);
    assert.ok(readSnapshot(file, dir), 'edited back');
    fs.writeFileSync(path.join(dir, 'profiles', 'extra.json'), '{}');
    assert.equal(readSnapshot(file, dir), undefined, 'an added profile file');
    fs.rmSync(path.join(dir, 'profiles', 'extra.json'));
    fs.rmSync(path.join(dir, 'prices.yaml'));
    assert.equal(readSnapshot(file, dir), undefined, 'a removed price table');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the bundled catalog and profiles from the snapshot equal a copy of their folders read from the files', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-bundled-'));
  fs.cpSync(DEFAULT_CATALOG_DIR, path.join(dir, 'catalog'), { recursive: true });
  fs.cpSync(DEFAULT_PROFILES_DIR, path.join(dir, 'profiles'), { recursive: true });
  const fromFiles = loadCatalog(path.join(dir, 'catalog'));
  const bundled = loadCatalog();
  assert.notEqual(bundled.dir, fromFiles.dir);
  // Every map (hardware, machines, models, aliases), entry order included; only the folder differs.
  assert.deepEqual({ ...bundled, dir: '' }, { ...fromFiles, dir: '' });
  const csv = path.join(dir, 'profiles', 'splitwise-sim', 'perf_model.csv');
  const copy = loadProfiles(path.join(dir, 'profiles'), csv);
  const profiles = loadProfiles();
  const relative = (p: typeof copy, root: string) => p.entries.map((e) => ({ ...e, file: path.relative(root, e.file) }));
  assert.deepEqual(relative(profiles, DEFAULT_PROFILES_DIR), relative(copy, path.join(dir, 'profiles')));
  assert.deepEqual(profiles.splitwiseRows(), copy.splitwiseRows());
  assert.deepEqual(bundledSnapshot()?.splitwise, readSplitwiseRows(SPLITWISE_CSV));
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a bundled deployment from the snapshot equals its file read and checked, overrides and errors included', () => {
  const names = listDeployments();
  assert.ok(names.length >= 10 && names.includes('baseline-h100-paper'));
  assert.deepEqual(Object.keys(bundledSnapshot()?.deployments ?? {}), names);
  const cases: DeploymentOverrides[] = [{}, { model: 'llama2-70b' }, { perfModel: 'roofline' }, { scheduler: 'no-such-scheduler' }, { counts: { prompt: 3 } }];
  const outcome = (f: () => unknown): unknown => {
    try {
      return f();
    } catch (e) {
      return { error: (e as Error).message, hint: (e as { hint?: string }).hint };
    }
  };
  for (const name of names) {
    const file = path.join(DEPLOYMENTS_DIR, `${name}.yaml`);
    const text = fs.readFileSync(file, 'utf8');
    for (const o of cases) {
      assert.deepEqual(
        outcome(() => loadDeployment(name, o)),
        outcome(() => parseDeployment(text, file, o, name)),
        `${name} ${JSON.stringify(o)}`,
      );
    }
  }
});

test('the bundled price table from the snapshot equals workloads/prices.yaml read and checked', () => {
  assert.ok(bundledSnapshot()?.prices);
  assert.deepEqual(loadPrices(), parsePrices(fs.readFileSync(DEFAULT_PRICES_FILE, 'utf8'), DEFAULT_PRICES_FILE));
});

test("a bundled trace's sampler from the snapshot is the one its file reads to, and an edited file is read instead", async () => {
  for (const [name, file] of Object.entries(BUNDLED_TRACES)) {
    const abs = path.join(WORKLOADS_DIR, file);
    const snap = bundledSnapshot();
    const sizes = bundledTraceSizes(abs, 'azure', snap);
    assert.ok(sizes, `${name}: the snapshot serves it`);
    const fromFile = await sizeSamplerFromBatches(openTrace(abs).batches(), { seed: 3 });
    const { sampler } = await traceSampler({ trace: name }, 3, bundledTraceSizes);
    assert.equal(sampler.count, fromFile.count, `${name}: rows`);
    assert.equal(sizes.prompts.length, fromFile.count);
    const [a, b] = [createRng(7), createRng(7)];
    for (let i = 0; i < 20_000; i++) {
      const joint = i % 2 === 0;
      assert.deepEqual(joint ? sampler.sampleJoint(a) : sampler.sample(a), joint ? fromFile.sampleJoint(b) : fromFile.sample(b), `${name}: draw ${i}`);
    }
    // Another reader, another folder, or other bytes: not from the snapshot.
    assert.equal(bundledTraceSizes(abs, 'mooncake', snap), undefined, `${name}: another format`);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-bundled-trace-'));
    try {
      const copy = path.join(dir, file);
      fs.copyFileSync(abs, copy);
      assert.equal(bundledTraceSizes(copy, 'azure', snap), undefined, `${name}: a copy elsewhere`);
      assert.ok(bundledTraceSizes(copy, 'azure', snap, dir), `${name}: an unchanged copy, as the bundled folder`);
      const text = fs.readFileSync(copy, 'utf8');
      fs.writeFileSync(
        copy,
        text.replace(/,(\d+)(\r?\n)/, (_, n: string, eol: string) => `,${Number(n) + 1}${eol}`),
      );
      assert.notEqual(fs.readFileSync(copy, 'utf8'), text, 'the edit changed the file');
      assert.equal(bundledTraceSizes(copy, 'azure', snap, dir), undefined, `${name}: an edited size`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
});
