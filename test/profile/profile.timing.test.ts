/**
 * `splitbench profile` against the reference backend: profiling a one-machine Baseline-H100 (DGX-H100, BLOOM-176B)
 * recovers the backend's own performance model (the bundled SplitwiseSim profile) within 5%, and the written file
 * is a valid profile that `sim` accepts through a deployment's `profileFile`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createPerfModel } from '../../src/engine/index.js';
import { BIN, runCli, tempDir, writeTrace } from '../load/helpers.js';
import { loadEngineData, loadProfileFile } from '../../src/config/index.js';

function serve(deployment: string, timeScale: number): Promise<{ url: string; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [BIN, 'serve', '--deployment', deployment, '--port', '0', '--time-scale', String(timeScale)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (s: string) => {
      out += s;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        const stop = (): Promise<void> =>
          new Promise<void>((r) => {
            child.once('exit', () => r());
            child.kill('SIGTERM');
          });
        resolve({ url: m[1]!, stop });
      }
    });
    child.once('exit', (code) => reject(new Error(`serve exited ${code}: ${out}`)));
  });
}

test('profile recovers the reference backend’s performance model within 5%', async () => {
  const dir = tempDir();
  const dep = path.join(dir, 'baseline-h100-1.yaml');
  writeFileSync(dep, 'name: baseline-h100-1\nkind: monolithic\nmodel: bloom-176b\nperfModel: profile\npools:\n  mixed: { machine: dgx-h100, count: 1 }\n');
  // Time scale 0.5: the emulated GPU runs at half speed, so client- and timer-side overheads weigh half as much; prompts
  // long enough that a few ms of delay on a busy 2-core test machine stay well under 5% (at most 2048: the engine
  // prefills longer prompts in chunks of its 2048-token batch budget), and the minimum of the repeats.
  const srv = await serve(dep, 0.5);
  const out = path.join(dir, 'measured.profile.json');
  try {
    const r = await runCli([
      'profile',
      '--url',
      srv.url,
      '--prompt-sizes',
      '512,1024,2048',
      '--batch-sizes',
      '1,16',
      '--contexts',
      '512',
      '--decode-tokens',
      '24',
      '--repeats',
      '3',
      '--estimator',
      'min',
      '--time-scale',
      '0.5',
      '--hardware',
      'h100-80gb',
      '--tp',
      '8',
      '--out',
      out,
    ]);
    assert.equal(r.code, 0, r.stderr);
  } finally {
    await srv.stop();
  }
  const p = loadProfileFile(out);
  assert.equal(p.model, 'bloom-176b');
  const truth = createPerfModel({ kind: 'profile', model: 'bloom-176b', machine: 'dgx-h100', data: loadEngineData() });
  p.prefill.tokens.forEach((t, i) => {
    const want = truth.prefillTime(t) * 1000;
    assert.ok(Math.abs(p.prefill.ms[i]! - want) / want < 0.05, `prefill ${t}: measured ${p.prefill.ms[i]} ms, model ${want} ms`);
  });
  const c = p.decode.curves[0]!;
  c.batch.forEach((b, i) => {
    const want = truth.decodeTime(b, b * c.contextTokens) * 1000;
    assert.ok(Math.abs(c.ms[i]! - want) / want < 0.05, `decode batch ${b}: measured ${c.ms[i]} ms, model ${want} ms`);
  });

  // The file drives the simulator through a deployment's profileFile.
  const simDep = path.join(dir, 'measured.yaml');
  writeFileSync(simDep, readFileSync(dep, 'utf8').replace('perfModel: profile\n', `perfModel: profile\nprofileFile: ${path.basename(out)}\n`));
  const trace = writeTrace(dir, [
    [0, 256, 4],
    [0.1, 1024, 4],
  ]);
  const sim = await runCli(['sim', '--trace', trace, '--deployment', simDep, '--db', path.join(dir, 's.db'), '--json']);
  assert.equal(sim.code, 0, sim.stderr);
});

test('profile: bad flags are one usage error listing every problem', async () => {
  const r = await runCli(['profile', '--url', 'ftp://x', '--prompt-sizes', '512,128', '--batch-sizes', 'a', '--out', path.join(tempDir(), 'p.json')]);
  assert.equal(r.code, 2);
  assert.match(
    r.stderr,
    /3 problems: --url: not an http\(s\) URL.*--prompt-sizes: values must be strictly increasing.*--batch-sizes: expected positive integers/,
  );
});
