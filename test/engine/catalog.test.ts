import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError } from '../../src/errors.js';
import { engineCatalog, kvBytesPerTokenInstance, kvCapacityTokens, modelKvBytesPerToken, modelWeightBytes } from '../../src/engine/catalog.js';
import { DEFAULT_CATALOG_DIR, loadCatalog } from '../../src/config/index.js';

function tempCatalog(edit: (file: string, text: string) => string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-catalog-'));
  for (const f of ['hardware.yaml', 'machines.yaml', 'models.yaml']) {
    fs.writeFileSync(path.join(dir, f), edit(f, fs.readFileSync(path.join(DEFAULT_CATALOG_DIR, f), 'utf8')));
  }
  return dir;
}

function lineOf(text: string, needle: string): number {
  return text.slice(0, text.indexOf(needle)).split('\n').length;
}

test('the bundled catalogs load and hold the required entries', () => {
  const c = loadCatalog();
  for (const h of ['a100-80gb', 'h100-80gb', 'h100-80gb-cap', 'h200-141gb', 'b200-192gb', 'l40s-48gb', 'mi300x-192gb']) assert.equal(c.hardware(h).name, h);
  for (const m of ['dgx-a100', 'dgx-h100', 'dgx-h100-cap', 'dgx-h200', 'dgx-b200', 'l40s-8', 'mi300x-8']) assert.equal(c.machine(m).gpus, 8);
  for (const m of ['bloom-176b', 'llama2-70b', 'llama3-8b', 'llama3-70b', 'mixtral-8x7b']) assert.ok(c.model(m).layers > 0);
  assert.equal(c.machine('dgx-a100').pricePerHour, 17.6);
  assert.equal(c.machine('dgx-h100').pricePerHour, 38);
  assert.equal(c.machine('dgx-h100-cap').hw.powerCapW, 350);
  assert.equal(c.machine('dgx-h100-cap').powerFactor, 0.7);
  assert.equal(c.machine('dgx-a100').infinibandGbps, 200);
  assert.equal(c.machine('dgx-h100').infinibandGbps, 400);
  // SplitwiseSim's name is an alias
  assert.equal(c.machine('dgx-h100-pcap').name, 'dgx-h100-cap');
  assert.equal(loadCatalog(), c, 'cached');
});

test('unknown names are ConfigErrors that list the known names', () => {
  const c = loadCatalog();
  assert.throws(
    () => c.machine('dgx-z9'),
    (e: unknown) => e instanceof ConfigError && /unknown machine "dgx-z9"; known: dgx-a100, dgx-h100/.test(e.message),
  );
  assert.throws(
    () => c.model('gpt-5'),
    (e: unknown) => e instanceof ConfigError && /known: bloom-176b, llama2-70b/.test(e.message),
  );
  assert.throws(
    () => c.hardware('tpu'),
    (e: unknown) => e instanceof ConfigError && /unknown hardware "tpu"; known: a100-80gb/.test(e.message),
  );
});

test('a bad field names the file, its line and the field path', () => {
  let text = '';
  const dir = tempCatalog((f, t) => {
    if (f !== 'hardware.yaml') return t;
    text = t.replace(/( {2}h100-80gb:\n(?:.*\n)*? {4}tdpW: )700/, '$1"hot"');
    return text;
  });
  const line = lineOf(text, 'tdpW: "hot"');
  assert.throws(
    () => loadCatalog(dir),
    (e: unknown) =>
      e instanceof ConfigError && e.message.includes(`${path.join(dir, 'hardware.yaml')}:${line}: hardware.h100-80gb.tdpW: Expected number, received string`),
  );
});

test('unknown fields, bad cross-references and bad YAML are reported with file and line', () => {
  let text = '';
  const typo = tempCatalog((f, t) => (f === 'models.yaml' ? (text = t.replace('    vocab: 32000\n', '    vocab: 32000\n    vocabulary: 1\n')) : t));
  assert.throws(
    () => loadCatalog(typo),
    (e: unknown) => e instanceof ConfigError && /models\.yaml:\d+: models\.llama2-70b: unknown field\(s\) "vocabulary"/.test(e.message),
  );
  assert.ok(text.includes('vocabulary'));

  const xref = tempCatalog((f, t) => (f === 'machines.yaml' ? (text = t.replace('hardware: l40s-48gb', 'hardware: l40s-96gb')) : t));
  const line = lineOf(text, 'hardware: l40s-96gb');
  assert.throws(
    () => loadCatalog(xref),
    (e: unknown) => e instanceof ConfigError && e.message.includes(`machines.yaml:${line}: machines.l40s-8.hardware: unknown hardware "l40s-96gb"`),
  );

  const broken = tempCatalog((f, t) => (f === 'hardware.yaml' ? t.replace('hardware:\n', 'hardware:\n  - [oops\n') : t));
  assert.throws(
    () => loadCatalog(broken),
    (e: unknown) => e instanceof ConfigError && /hardware\.yaml:\d+: invalid YAML/.test(e.message),
  );

  const negative = tempCatalog((f, t) => (f === 'machines.yaml' ? t.replace('gpus: 8', 'gpus: -8') : t));
  assert.throws(
    () => loadCatalog(negative),
    (e: unknown) => e instanceof ConfigError && /machines\.dgx-a100\.gpus: Number must be greater than 0/.test(e.message),
  );
});

test('KV bytes per token: GQA-aware, and the SplitwiseSim MHA formula with compat', () => {
  const c = loadCatalog();
  const bloom = c.model('bloom-176b');
  const llama2 = c.model('llama2-70b');
  assert.equal(modelKvBytesPerToken(bloom, { compat: true }), 4_014_080);
  assert.equal(modelKvBytesPerToken(llama2, { compat: true }), 2_621_440);
  assert.equal(modelKvBytesPerToken(bloom), 2 * 70 * 112 * 128 * 2);
  assert.equal(modelKvBytesPerToken(llama2), 2 * 80 * 8 * 128 * 2); // 8x smaller than SplitwiseSim's
  assert.equal(modelKvBytesPerToken(c.model('llama3-8b')), 131_072);
  // 8 KV heads over 16 GPUs would replicate; at TP8 one head per GPU, no replication
  assert.equal(kvBytesPerTokenInstance(llama2, 8), modelKvBytesPerToken(llama2));
  assert.equal(kvBytesPerTokenInstance(llama2, 2), modelKvBytesPerToken(llama2));
  assert.equal(modelWeightBytes(bloom, { compat: true }), 329e9);
  assert.equal(modelWeightBytes(llama2, { compat: true }), 135e9);
  assert.equal(modelWeightBytes(llama2), 68.98e9 * 2);
  assert.equal(modelWeightBytes(c.model('llama3-8b'), { compat: true }), 8.03e9 * 2, 'no SplitwiseSim size: the real one');
});

test('KV capacity in tokens: SplitwiseSim numbers with compat, and a clear error when weights do not fit', () => {
  const c = loadCatalog();
  assert.equal(kvCapacityTokens(c.model('bloom-176b'), c.machine('dgx-a100'), { compat: true }), 89_234);
  assert.equal(kvCapacityTokens(c.model('llama2-70b'), c.machine('dgx-h100'), { compat: true }), 210_645);
  const realistic = kvCapacityTokens(c.model('llama2-70b'), c.machine('dgx-a100'));
  assert.equal(realistic, Math.floor((8 * 85_899_345_920 * 0.9 - 68.98e9 * 2) / 327_680));
  assert.equal(
    kvCapacityTokens(c.model('llama3-8b'), c.machine('dgx-h200'), { tp: 1, memoryUtilization: 0.5 }),
    Math.floor((141e9 * 0.5 - 8.03e9 * 2) / 131_072),
  );
  assert.throws(
    () => kvCapacityTokens(c.model('bloom-176b'), c.machine('l40s-8')),
    (e: unknown) => e instanceof ConfigError && /bloom-176b .* does not fit on l40s-8 at TP8/.test(e.message),
  );
  assert.throws(() => kvCapacityTokens(c.model('bloom-176b'), c.machine('dgx-a100'), { tp: 3.5 }), ConfigError);
});

test('engineCatalog exposes catalog entries in the cluster shape', () => {
  const ec = engineCatalog(loadCatalog());
  const a = ec.machine('dgx-a100')!;
  assert.deepEqual(a, {
    name: 'dgx-a100',
    gpus: 8,
    hbmBytesPerGpu: 85_899_345_920,
    interconnectGbps: 200,
    kvResidueS: 0.008,
    pricePerHour: 17.6,
    tdpW: 6500,
    idleW: 1500,
  });
  assert.equal(ec.machine('dgx-h100-pcap')!.name, 'dgx-h100-cap');
  assert.equal(ec.machine('nope'), undefined);
  assert.equal(ec.model('bloom-176b')!.weightsBytes, 176.2e9 * 2);
  assert.equal(engineCatalog(loadCatalog(), { compat: true }).model('bloom-176b')!.weightsBytes, 329e9);
  assert.ok(ec.machineNames().includes('mi300x-8'));
});
