/**
 * `replay --time-scale auto`: a calibration tries 20, 10, 5, 2, 1 (highest first) with the twin check and runs at
 * the first scale that held; which one depends on this machine, so the test checks the rule, not the number.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { AUTO_TIME_SCALES } from '../../src/load/index.js';
import { runCli, runs, tempDir } from './helpers.js';
import { jsonResult } from '../json-output.js';

test('--time-scale auto runs at the first calibrated scale that held, and records how it was chosen', async () => {
  const db = path.join(tempDir(), 'auto.db');
  const r = await runCli(['replay', '--trace', 'coding', '--window', '0:20', '--time-scale', 'auto', '--db', db, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('splitbench replay: time scale auto: x'));
  assert.ok(lines.length >= 1 && lines.length <= AUTO_TIME_SCALES.length, r.stderr);
  // One line per candidate tried, highest first, each held or distorted with its reason.
  lines.forEach((l, i) => {
    assert.match(l, new RegExp(`^splitbench replay: time scale auto: x${AUTO_TIME_SCALES[i]} (holds|is distorted: .+)$`));
  });
  const held = lines.findIndex((l) => / holds$/.test(l));
  const chosen = held >= 0 ? AUTO_TIME_SCALES[held]! : AUTO_TIME_SCALES[AUTO_TIME_SCALES.length - 1]!;
  assert.equal(held >= 0 ? held : lines.length - 1, lines.length - 1, 'the calibration stops at the first scale that held');
  assert.match(r.stderr, new RegExp(`time scale auto: running at x${chosen}\\b`));
  const summary = jsonResult<{ timeScale: number }>(r.stdout, 'replay');
  assert.equal(summary.timeScale, chosen);
  const all = runs(db);
  assert.equal(all.filter((x) => x.kind === 'live').length, 1, 'calibration runs stay out of the store');
  const live = all.find((x) => x.kind === 'live')!;
  assert.equal(live.time_scale, chosen);
  assert.match(String(live.tags_json ?? live.options_json), /time_scale_auto/);
});

test('--time-scale auto is refused with --url and with --no-twin, naming the flag', async () => {
  const withUrl = await runCli(['replay', '--trace', 'coding', '--time-scale', 'auto', '--url', 'http://127.0.0.1:9', '--db', path.join(tempDir(), 'x.db')]);
  assert.equal(withUrl.code, 2);
  assert.match(withUrl.stderr, /--time-scale auto: calibrates the bundled reference backend/);
  const noTwin = await runCli(['replay', '--trace', 'coding', '--time-scale', 'auto', '--no-twin', '--db', path.join(tempDir(), 'y.db')]);
  assert.equal(noTwin.code, 2);
  assert.match(noTwin.stderr, /--time-scale auto: judges each scale by the twin check/);
  const bad = await runCli(['replay', '--trace', 'coding', '--time-scale', 'fast', '--db', path.join(tempDir(), 'z.db')]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--time-scale: expected a number > 0 or 'auto'/);
});
