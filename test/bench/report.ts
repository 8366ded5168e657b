/**
 * Report rendering figures: build a temp store with a monolithic and a split run of N requests each
 * (default 20000; `node dist/test/bench/report.js 100000` for more), then time loading + summarizing,
 * drawing every chart to PNG and SVG, and the whole `buildReport`. Prints figures; never fails on time.
 */
import fs from 'node:fs';
import path from 'node:path';
import { makeStore, tempDir } from '../report/fixture.js';
import { CHARTS } from '../../src/report/charts.js';
import { renderChart, FORMATS } from '../../src/report/render.js';
import { buildReport, loadReport, openForReading } from '../../src/report/build.js';

const n = Number(process.argv[2] ?? 20000);
const dir = tempDir('splitbench-bench-report-');
try {
  let t = performance.now();
  const db = makeStore(dir, [
    { name: 'mono', design: 'mono', rate: 20, n, seed: 1, deployment: 'cluster' },
    { name: 'split', design: 'split', rate: 30, n, seed: 2, deployment: 'cluster' },
  ]);
  const buildMs = performance.now() - t;

  const store = openForReading(db);
  t = performance.now();
  const loaded = await loadReport(store, ['mono', 'split']);
  const loadMs = performance.now() - t;
  store.close();

  const input = { runs: loaded.runs, summaries: loaded.summaries, sloLimits: [] };
  const per: Record<string, { png: number; svg: number; pdf: number; pngBytes: number; svgBytes: number; pdfBytes: number }> = {};
  let drawn = 0;
  for (const c of CHARTS) {
    const r = c.build(input);
    if ('skip' in r) continue;
    const row = { png: 0, svg: 0, pdf: 0, pngBytes: 0, svgBytes: 0, pdfBytes: 0 };
    for (const f of FORMATS) {
      const s = performance.now();
      const bytes = renderChart(r.spec, f);
      row[f] = Math.round(performance.now() - s);
      row[`${f}Bytes`] = bytes.length;
    }
    per[c.name] = row;
    drawn++;
  }
  t = performance.now();
  const res = await buildReport({ db, runs: ['mono', 'split'], formats: ['png', 'svg'], outDir: path.join(dir, 'out') });
  const fullMs = performance.now() - t;
  const totalBytes = res.files.reduce((s, f) => s + fs.statSync(f).size, 0);

  process.stdout.write(`report bench: 2 runs × ${n} requests\n`);
  process.stdout.write(`  fixture store written       ${buildMs.toFixed(0)} ms\n`);
  process.stdout.write(`  load + summarize (2 runs)   ${loadMs.toFixed(0)} ms\n`);
  for (const [name, r] of Object.entries(per)) {
    process.stdout.write(
      `  ${name.padEnd(20)} png ${String(r.png).padStart(5)} ms ${String(Math.round(r.pngBytes / 1024)).padStart(5)} KiB   svg ${String(r.svg).padStart(5)} ms ${String(Math.round(r.svgBytes / 1024)).padStart(5)} KiB   pdf ${String(r.pdf).padStart(5)} ms ${String(Math.round(r.pdfBytes / 1024)).padStart(5)} KiB\n`,
    );
  }
  process.stdout.write(`  buildReport (${drawn} charts × 2 formats + pages)  ${fullMs.toFixed(0)} ms, ${(totalBytes / 1048576).toFixed(1)} MiB written\n`);
  process.stdout.write(`  peak RSS                    ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB\n`);
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
