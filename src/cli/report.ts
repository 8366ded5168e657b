/** `splitbench report`: comparison charts (PNG/SVG), index.html and report.md for runs; `--compare A B`. */
import type { CommandModule } from 'yargs';
import { DEFAULT_DB } from '../paths.js';
import { CHART_INFO, REPORT_FORMATS } from '../report/index.js';
import { setExitCode } from './main.js';

interface ReportArgs {
  run?: (string | number)[];
  compare?: (string | number)[];
  db: string;
  out?: string;
  format: string[];
  title?: string;
  chart?: string;
  slo?: string;
  json: boolean;
}

const chartList = CHART_INFO.map((c) => `  ${c.name.padEnd(18)} ${c.description}`).join('\n');

export const reportCommand: CommandModule<object, ReportArgs> = {
  command: 'report',
  describe: 'charts (PNG/SVG), index.html and report.md comparing runs; or --compare A B',
  builder: (y) =>
    y
      .option('run', { type: 'string', array: true, describe: 'run id, name or uuid (repeat; legend and colour order)', requiresArg: true })
      .option('compare', { type: 'string', array: true, describe: 'compare run B against run A: ratios B/A of every summary metric and SLO verdicts that moved', requiresArg: true })
      .option('db', { type: 'string', default: DEFAULT_DB, describe: 'results store (SQLite file)', requiresArg: true })
      .option('out', { type: 'string', describe: 'output folder (default results/report-<run names>, or results/compare-A-vs-B)', requiresArg: true })
      .option('format', { type: 'string', array: true, default: ['png,svg'], describe: `image formats, comma-separated: ${REPORT_FORMATS.join(', ')}`, requiresArg: true })
      .option('title', { type: 'string', describe: 'title prefix for the charts and the page', requiresArg: true })
      .option('chart', { type: 'string', describe: 'draw only this chart (no pages); see the list below', requiresArg: true })
      .option('slo', { type: 'string', describe: 'SLO file (path or bundled name): goodput, and limits drawn on the load charts', requiresArg: true })
      .option('json', { type: 'boolean', default: false, describe: 'print the result as JSON' })
      .example('$0 report --run mono-70 --run split-70', 'every chart with data, into results/report-mono-70-vs-split-70/')
      .example('$0 report --run 3 --run 4 --run 5 --slo interactive --format svg', 'a sweep, with the bundled interactive SLO lines and goodput, SVG only')
      .example('$0 report --run mono-70 --run split-70 --chart cdf-ttft --out fig/', 'just one chart')
      .example('$0 report --compare baseline candidate', 'ratios candidate/baseline, better/worse, SLO verdicts that moved')
      .epilogue(`Charts (--chart NAME):\n${chartList}`),
  handler: async (argv) => {
    const { ConfigError } = await import('../errors.js');
    const formats = [...new Set(argv.format.flatMap((f) => String(f).split(',')).map((f) => f.trim().toLowerCase()).filter((f) => f !== ''))];
    for (const f of formats) {
      if (!(REPORT_FORMATS as readonly string[]).includes(f)) {
        throw new ConfigError(`unknown format '${f}' (known: ${REPORT_FORMATS.join(', ')})`, { path: '--format' });
      }
    }
    const { printJson, formatTable } = await import('./output.js');
    if (argv.compare !== undefined) {
      if (argv.run !== undefined) throw new ConfigError('give either --run (a report) or --compare A B, not both', { path: '--compare' });
      if (argv.compare.length !== 2) {
        throw new ConfigError(`needs exactly two runs, A then B (got ${argv.compare.length})`, { path: '--compare', hint: 'e.g. --compare baseline candidate' });
      }
      const report = await import('../report/index.js');
      const c = await report.compareRuns({ db: argv.db, a: String(argv.compare[0]), b: String(argv.compare[1]), ...(argv.slo === undefined ? {} : { slo: argv.slo }) });
      const written = await report.writeComparison(c, argv.out);
      if (argv.json) printJson({ ...c, outDir: written.outDir, files: written.files });
      else {
        process.stdout.write(await report.comparisonText(c, Boolean(process.stdout.isTTY), (rows) => formatTable(rows)));
        process.stdout.write(`\nwrote ${written.files.join(', ')}\n`);
      }
      setExitCode(0);
      return;
    }
    if (!argv.run || argv.run.length === 0) {
      throw new ConfigError('name the runs to report on', { path: '--run', hint: 'e.g. --run mono-70 --run split-70, or --compare A B; list runs with `splitbench runs list`' });
    }
    if (argv.chart !== undefined && !CHART_INFO.some((c) => c.name === argv.chart)) {
      throw new ConfigError(`unknown chart '${argv.chart}'`, { path: '--chart', hint: `charts: ${CHART_INFO.map((c) => c.name).join(', ')}` });
    }
    const { buildReport } = await import('../report/index.js');
    const res = await buildReport({
      db: argv.db,
      runs: argv.run.map(String),
      formats: formats as ('png' | 'svg')[],
      ...(argv.out === undefined ? {} : { outDir: argv.out }),
      ...(argv.title === undefined ? {} : { title: argv.title }),
      ...(argv.chart === undefined ? {} : { chart: argv.chart as never }),
      ...(argv.slo === undefined ? {} : { slo: argv.slo }),
    });
    if (argv.json) {
      printJson(res);
      return;
    }
    const out: string[] = [`wrote ${res.charts.length} chart${res.charts.length === 1 ? '' : 's'} (${res.files.length} files) to ${res.outDir}`];
    for (const c of res.charts) out.push(`  ${c.name.padEnd(18)} ${c.files.map((f) => f.slice(res.outDir.length + 1)).join(', ')}`);
    if (res.skipped.length > 0) {
      out.push('not drawn (no data):');
      for (const s of res.skipped) out.push(`  ${s.name.padEnd(18)} ${s.reason}`);
    }
    for (const n of res.notes) out.push(`note: ${n}`);
    if (!argv.chart) out.push(`open ${res.outDir}/index.html, or paste ${res.outDir}/report.md into a review`);
    process.stdout.write(out.join('\n') + '\n');
  },
};
