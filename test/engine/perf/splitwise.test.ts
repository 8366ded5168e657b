import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../../../src/errors.js';
import { SplitwisePerfModel, convertSplitwiseRows, formatProfileJson, profileFileName, splitwisePredictors } from '../../../src/engine/perf/splitwise.js';
import { SPLITWISE_CSV, loadProfiles, parseSplitwiseCsv } from '../../../src/config/index.js';

const profiles = loadProfiles();

// "Effective TP8 predictor tables" of the Splitwise notes (section 2.2), ms, x = batch tokens.
const X = [128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768];
const TABLE: Record<string, { hw: string; model: string; prompt: number[]; token?: number[] }> = {
  'bloom a100': {
    model: 'bloom-176b',
    hw: 'a100-80gb',
    prompt: [79.7, 99.2, 174.4, 287.5, 536.1, 1332.6, 3591.5, 5782.0, 11251.8],
    token: [47.61, 47.71, 49.31, 49.44, 50.19, 51.63, 54.27, 65.38, 96.58],
  },
  'bloom h100': {
    model: 'bloom-176b',
    hw: 'h100-80gb',
    prompt: [48.3, 51.2, 76.1, 132.2, 252.0, 649.6, 1411.6, 2521.9, 4996.5],
    token: [35.74, 36.15, 36.17, 36.33, 36.74, 37.53, 39.02, 45.84, 63.82],
  },
  'bloom h100-cap': { model: 'bloom-176b', hw: 'h100-80gb-cap', prompt: [62.8, 66.5, 99.0, 171.9, 327.6, 844.5, 1835.0, 3278.5, 6495.4] },
  'llama2 a100': {
    model: 'llama2-70b',
    hw: 'a100-80gb',
    prompt: [65.3, 66.8, 93.0, 160.9, 282.7, 708.4, 1781.0, 3524.5, 7554.0],
    token: [43.03, 43.48, 45.03, 44.56, 45.7, 46.47, 48.47, 53.02, 71.61],
  },
  'llama2 h100': {
    model: 'llama2-70b',
    hw: 'h100-80gb',
    prompt: [58.2, 51.7, 53.9, 77.7, 134.4, 376.2, 831.5, 1551.7, 2936.3],
    token: [29.87, 28.27, 30.56, 29.97, 31.63, 31.33, 32.59, 38.62, 50.16],
  },
};

test('SplitwiseSim predictors match the TP8 tables of the Splitwise notes to 0.1 ms', () => {
  for (const [label, t] of Object.entries(TABLE)) {
    const p = splitwisePredictors(profiles, t.model, t.hw, 8);
    X.forEach((x, i) => {
      const prompt = p.prompt(x) * 1000;
      assert.ok(Math.abs(prompt - t.prompt[i]!) <= 0.05 + 1e-9, `${label} prompt(${x}) = ${prompt}, table ${t.prompt[i]}`);
      if (t.token) {
        const token = p.token(x) * 1000;
        assert.ok(Math.abs(token - t.token[i]!) <= 0.005 + 1e-9, `${label} token(${x}) = ${token}, table ${t.token[i]}`);
      }
    });
  }
});

test('SplitwiseSim predictors interpolate between knots and extrapolate linearly (as the notes compute)', () => {
  const bloomA = splitwisePredictors(profiles, 'bloom-176b', 'a100-80gb');
  // decode at batch sizes below the first knot: extrapolated from the 128/256 points
  assert.ok(Math.abs(bloomA.token(1) * 1000 - 47.52) < 0.005);
  assert.ok(Math.abs(bloomA.token(64) * 1000 - 47.56) < 0.005);
  assert.ok(Math.abs(bloomA.prompt(1) * 1000 - 60) < 0.5);
  const llamaH = splitwisePredictors(profiles, 'llama2-70b', 'h100-80gb');
  assert.ok(Math.abs(llamaH.token(1) * 1000 - 31.47) < 0.005);
  assert.ok(Math.abs(llamaH.token(64) * 1000 - 30.68) < 0.005);
  assert.ok(Math.abs(llamaH.prompt(1) * 1000 - 64.7) < 0.05);
  // exactly halfway between the 1024 and 2048 knots
  const mid = (bloomA.prompt(1024) + bloomA.prompt(2048)) / 2;
  assert.ok(Math.abs(bloomA.prompt(1536) - mid) < 1e-12);
  // beyond the last knot: the last segment's slope
  const slope = (bloomA.prompt(32768) - bloomA.prompt(16384)) / 16384;
  assert.ok(Math.abs(bloomA.prompt(40000) - (bloomA.prompt(32768) + slope * (40000 - 32768))) < 1e-9);
  // SplitwiseSim's hardware name is accepted
  assert.equal(
    splitwisePredictors(profiles, 'bloom-176b', 'h100-80gb-pcap').prompt(512),
    splitwisePredictors(profiles, 'bloom-176b', 'h100-80gb-cap').prompt(512),
  );
  assert.throws(
    () => splitwisePredictors(profiles, 'llama3-8b', 'h200-141gb'),
    (e: unknown) => e instanceof ConfigError && /no profile for llama3-8b/.test(e.message),
  );
});

test('the power-capped H100 profile is H100 prompt time x 1.3, token time unchanged', () => {
  const h = splitwisePredictors(profiles, 'bloom-176b', 'h100-80gb');
  const c = splitwisePredictors(profiles, 'bloom-176b', 'h100-80gb-cap');
  for (const x of X) {
    assert.ok(Math.abs(c.prompt(x) / h.prompt(x) - 1.3) < 0.01, `x=${x}`);
    assert.ok(Math.abs(c.token(x) - h.token(x)) < 1e-12);
  }
});

test('the splitwise iteration rule: prompt(batch tokens), token(decodes), mixed x 1.1', () => {
  const m = new SplitwisePerfModel(profiles, 'bloom-176b', 'a100-80gb');
  const p = m.predictors;
  assert.equal(m.iterationTime({ promptTokens: [1000, 500], decodes: 0, decodeContextTokens: 0 }), p.prompt(1500));
  assert.equal(m.iterationTime({ promptTokens: [], decodes: 12, decodeContextTokens: 99999 }), p.token(12));
  assert.equal(m.iterationTime({ promptTokens: [1000], decodes: 12, decodeContextTokens: 5000 }), p.prompt(1012) * 1.1);
  assert.equal(m.iterationTime({ promptTokens: [], decodes: 0, decodeContextTokens: 0 }), 0);
  assert.equal(m.decodeTime(7, 100), p.token(7));
  assert.equal(m.prefillTime(333), p.prompt(333));
});

test('the bundled profile files are exactly the conversion of the bundled CSV', () => {
  const rows = parseSplitwiseCsv(fs.readFileSync(SPLITWISE_CSV, 'utf8'), SPLITWISE_CSV);
  assert.equal(rows.length, 1260);
  const profiles = convertSplitwiseRows(rows);
  assert.equal(profiles.length, 12);
  for (const p of profiles) {
    const file = path.join(path.dirname(SPLITWISE_CSV), profileFileName(p));
    assert.equal(fs.readFileSync(file, 'utf8'), `${formatProfileJson(p)}\n`, `${file} is stale: regenerate it with writeSplitwiseProfiles`);
  }
  const tp2 = profiles.find((p) => p.model === 'llama2-70b' && p.hardware === 'a100-80gb' && p.tp === 2)!;
  assert.deepEqual(tp2.decode.curves[0]!.batch, [1, 2, 4, 8, 16, 32], 'the failed batch-64 run is dropped');
  const bloom = profiles.find((p) => p.model === 'bloom-176b' && p.hardware === 'a100-80gb')!;
  assert.deepEqual(bloom.prefill.tokens, [128, 256, 512, 1024, 2048, 4096, 8192]);
  assert.deepEqual(bloom.decode.curves[0]!.batch, [1, 2, 4, 8, 16, 32, 64]);
});

test('a bad CSV row names file, line and column', () => {
  const header = 'model,hardware,prompt_size,batch_size,token_size,peak_power,average_power,prompt_time,token_time,e2e_time,tensor_parallel\n';
  const good = 'bloom-176b,a100-80gb,128,1,128,1,1,79.6,47.6,1000,8\n';
  assert.equal(parseSplitwiseCsv(header + good).length, 1);
  assert.throws(
    () => parseSplitwiseCsv(`${header + good}bloom-176b,a100-80gb,128,1,128,1,1,fast,47.6,1000,8\n`, 'p.csv'),
    (e: unknown) => e instanceof ConfigError && e.message.startsWith('p.csv:3:prompt_time: not a number'),
  );
});

test('a plain CSV (split directly) reads as csv-parse reads it: rows, blank lines, line numbers in errors', () => {
  const text = fs.readFileSync(SPLITWISE_CSV, 'utf8');
  // A quoted header name sends the same text through csv-parse (which unquotes it).
  const viaCsvParse = (t: string): string => t.replace('model,', '"model",');
  const lines = text.split('\n');
  const blanks = [lines[0], '', ...lines.slice(1, 9), '', '', ...lines.slice(9)].join('\n');
  for (const t of [text, blanks, `${text}\n\n`, text.replace(/\n$/, '')]) {
    assert.deepEqual(parseSplitwiseCsv(t), parseSplitwiseCsv(viaCsvParse(t)));
  }
  const bad = blanks.split('\n');
  const f = bad[700]!.split(',');
  f[8] = 'slow';
  bad[700] = f.join(',');
  const message = (t: string): string => {
    try {
      parseSplitwiseCsv(t, 'p.csv');
    } catch (e) {
      return (e as Error).message;
    }
    return 'no error';
  };
  assert.equal(message(bad.join('\n')), 'p.csv:701:token_time: not a number: "slow"');
  assert.equal(message(viaCsvParse(bad.join('\n'))), 'p.csv:701:token_time: not a number: "slow"');
  // A short row: csv-parse words it.
  assert.match(message(`${lines[0]}\nbloom-176b,a100-80gb\n`), /Invalid Record Length/);
});

test('profiles loaded without SplitwiseSim rows: the same measured profiles, and its predictors say the rows are missing', () => {
  const without = loadProfiles(undefined, false);
  assert.deepEqual(without.entries, profiles.entries);
  assert.throws(
    () => splitwisePredictors(without, 'bloom-176b', 'a100-80gb'),
    (e: unknown) => e instanceof ConfigError && /SplitwiseSim's profile rows were not loaded/.test(e.message) && /splitwise: true/.test(e.hint ?? ''),
  );
  assert.equal(loadProfiles(undefined, false), without, 'cached');
});
