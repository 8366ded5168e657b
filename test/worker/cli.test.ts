/**
 * `splitbench model make|info` and the flag checks of `serve --engine real` (compiled CLI), plus the GGUF
 * writer's layout read back.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { runCli } from '../load/helpers.js';
import { GGUF_ALIGNMENT, readGgufInfo } from '../../src/worker/gguf.js';
import { modelTensors, shapeParameters, TINY_SHAPE, kvBytesPerToken } from '../../src/worker/model.js';
import { tmpDir, cleanup } from './helpers.js';
import { jsonResult } from '../json-output.js';

after(cleanup);

describe('splitbench model', () => {
  it('make writes a deterministic GGUF v3 file with the shape in its metadata', async () => {
    const a = path.join(tmpDir(), 'a.gguf');
    const b = path.join(tmpDir(), 'b.gguf');
    const c = path.join(tmpDir(), 'c.gguf');
    const [ra, rb, rc] = await Promise.all([
      runCli(['model', 'make', '--out', a, '--seed', '3', '--json']),
      runCli(['model', 'make', '--out', b, '--seed', '3']),
      runCli(['model', 'make', '--out', c, '--seed', '4']),
    ]);
    assert.equal(ra.code, 0, ra.stderr);
    assert.equal(rb.code, 0, rb.stderr);
    assert.equal(rc.code, 0, rc.stderr);
    const made = jsonResult(ra.stdout) as { parameters: number; bytes: number; kvBytesPerToken: number };
    assert.equal(made.parameters, shapeParameters(TINY_SHAPE));
    assert.equal(made.kvBytesPerToken, 2048);
    assert.equal(fs.statSync(a).size, made.bytes);
    assert.ok(fs.readFileSync(a).equals(fs.readFileSync(b)), 'same seed, same bytes');
    assert.ok(!fs.readFileSync(a).equals(fs.readFileSync(c)), 'another seed, other weights');
    assert.match(rb.stdout, /tiny, 2\.62M parameters \(4 layers, 256 wide, 4\/2 heads of 64/);

    const info = readGgufInfo(a);
    assert.equal(info.version, 3);
    assert.equal(info.tensorCount, modelTensors(TINY_SHAPE, 'f16').length);
    const md = info.metadata;
    assert.equal(md.get('general.architecture'), 'llama');
    assert.equal(md.get('llama.block_count'), 4);
    assert.equal(md.get('llama.attention.head_count_kv'), 2);
    assert.equal(md.get('tokenizer.ggml.model'), 'llama');
    assert.deepEqual(md.get('tokenizer.ggml.tokens'), { arrayLength: 512 });
    assert.equal(md.get('splitbench.shape'), 'tiny');
    assert.equal(md.get('splitbench.seed'), 3);
    // Tensor data: every tensor's bytes, each padded to the alignment, end the file.
    const data = modelTensors(TINY_SHAPE, 'f16').reduce(
      (s, t) => s + Math.ceil((t.dims.reduce((x, y) => x * y, 1) * (t.type === 'f16' ? 2 : 4)) / GGUF_ALIGNMENT) * GGUF_ALIGNMENT,
      0,
    );
    assert.equal((made.bytes - data) % GGUF_ALIGNMENT, 0, 'the data section starts aligned');

    const shown = await runCli(['model', 'info', a, '--json']);
    assert.equal(shown.code, 0, shown.stderr);
    const shape = jsonResult(shown.stdout) as Record<string, unknown>;
    assert.equal(shape.layers, 4);
    assert.equal(shape.vocab, 512);
    assert.equal(shape.kvBytesPerToken, kvBytesPerToken(TINY_SHAPE));
  });

  it('names the bad flag, exit 2', async () => {
    const out = path.join(tmpDir(), 'x.gguf');
    const cases: [string[], RegExp][] = [
      [['model', 'make', '--shape', 'gpt9', '--out', out], /--shape: unknown shape 'gpt9'[\s\S]*known shapes: tiny, .*llama3-8b/],
      [['model', 'make', '--heads', '3', '--out', out], /--hidden: 256 is not a multiple of --heads 3/],
      [['model', 'make', '--vocab', '100', '--out', out], /--vocab: must be an integer ≥ 260, got 100/],
      [['model', 'make', '--seed', '-1', '--out', out], /--seed: must be an integer from 0/],
      [['model', 'make', '--layers', '0', '--out', out], /--layers: must be a positive integer, got 0/],
      [
        ['model', 'make', '--hidden', '2.5', '--seed', '0.5', '--out', out],
        /2 problems: --hidden: must be a positive integer, got 2\.5; --seed: must be an integer, got 0\.5/,
      ],
      [['model', 'info', path.join(tmpDir(), 'none.gguf')], /model info: model file .*none\.gguf does not exist/],
    ];
    const results = await Promise.all(cases.map(([args]) => runCli(args)));
    results.forEach((r, i) => {
      assert.equal(r.code, 2, `${cases[i]![0].join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, cases[i]![1]);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    });
    assert.ok(!fs.existsSync(out));
  });
});

describe('serve --engine real: flag checks', () => {
  it('refuses flags of the other engine and bad values, naming them (exit 2)', async () => {
    const cases: [string[], RegExp][] = [
      [['serve', '--deployment', 'splitwise-hh', '--workers', '2'], /--workers: only with --engine real/],
      [['serve', '--engine', 'real', '--deployment', 'mono', '--time-scale', '10'], /--time-scale: only with --engine emulated/],
      [['serve', '--engine', 'real', '--deployment', 'splitwise-hh'], /--deployment: must be mono or split with --engine real/],
      [['serve', '--engine', 'real', '--deployment', 'mono', '--prompt-workers', '2'], /--prompt-workers\/--token-workers: only with --deployment split/],
      [['serve', '--engine', 'real', '--deployment', 'split', '--threads', '0'], /--threads: must be an integer ≥ 1, got 0/],
      [['serve', '--engine', 'real', '--deployment', 'split', '--model-file', path.join(tmpDir(), 'none.gguf')], /--model-file: model file .* does not exist/],
    ];
    const results = await Promise.all(cases.map(([args]) => runCli(args)));
    results.forEach((r, i) => {
      assert.equal(r.code, 2, `${cases[i]![0].join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, cases[i]![1]);
    });
  });

  it('--gpu cuda without CUDA binaries fails at start with a clear error', async () => {
    const model = path.join(tmpDir(), 'g.gguf');
    await runCli(['model', 'make', '--out', model]);
    const r = await runCli(['serve', '--engine', 'real', '--deployment', 'mono', '--gpu', 'cuda', '--port', '0', '--model-file', model]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /worker mixed-0 did not start: --gpu cuda: no usable CUDA build of llama\.cpp/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });
});
