/** `splitbench gate`: judge a run against an SLO file; exit 0 pass, 1 failed rules, 2 bad input, 3 unusable run. */
import type { CommandModule } from 'yargs';
import { DEFAULT_DB } from '../paths.js';
import { ExitCode } from '../errors.js';
import { setExitCode } from './main.js';
import { PERCENTILES_OPTION } from './output.js';

interface GateArgs {
  slo: string;
  run?: string | undefined;
  baseline?: string | undefined;
  db: string;
  junit?: string | undefined;
  markdown?: string | undefined;
  json: boolean;
  'allow-lag': boolean;
  'allow-saturated': boolean;
  'allow-distorted': boolean;
  'reference-run'?: string | undefined;
  'reference-machine'?: string | undefined;
  percentiles: string;
}

export const gateCommand: CommandModule<object, GateArgs> = {
  command: 'gate',
  describe: 'evaluate an SLO file against a run (release gate): exit 0 pass, 1 an SLO failed, 3 run unusable',
  builder: (y) =>
    y
      .option('slo', {
        type: 'string',
        demandOption: true,
        describe: 'SLO file: a path, or a bundled name (splitwise, interactive)',
        requiresArg: true,
      })
      .option('run', { type: 'string', describe: 'run id, name or uuid; default: the latest run', requiresArg: true })
      .option('baseline', {
        type: 'string',
        describe: "baseline run for rules like 'e2e.p99 <= baseline * 1.05'",
        requiresArg: true,
      })
      .option('db', { type: 'string', default: DEFAULT_DB, describe: 'results store (SQLite file)', requiresArg: true })
      .option('junit', { type: 'string', describe: 'write JUnit XML here (one testcase per rule)', requiresArg: true })
      .option('markdown', { type: 'string', describe: 'append a Markdown table to this file (CI job summary; created if missing)', requiresArg: true })
      .option('json', { type: 'boolean', default: false, describe: 'print the verdicts as JSON' })
      .option('allow-lag', {
        type: 'boolean',
        default: false,
        describe: 'judge a run even if it is flagged for schedule lag (the client fell behind the trace)',
      })
      .option('allow-saturated', {
        type: 'boolean',
        default: false,
        describe: 'judge a run even if it is saturated (achieved < 95% of offered, or its queue grew through the run)',
      })
      .option('allow-distorted', {
        type: 'boolean',
        default: false,
        describe: 'judge a live run even if its self-check flagged it distorted (twin deviation, emission delay, coalescing or send lag)',
      })
      .option('reference-run', {
        type: 'string',
        describe: 'unloaded run to compute slowdowns against (slowdown rules)',
        requiresArg: true,
      })
      .option('reference-machine', {
        type: 'string',
        describe: 'machine type of the performance-model slowdown reference (default dgx-a100)',
        requiresArg: true,
      })
      .option('percentiles', PERCENTILES_OPTION)
      .example('$0 gate --slo interactive', 'judge the latest run against the bundled chat-service SLOs')
      .example('$0 gate --slo slo.yaml --run candidate --baseline release-1.4 --junit gate.xml', 'regression gate in CI')
      .example('$0 gate --slo splitwise --run 7 --markdown "$GITHUB_STEP_SUMMARY"', "the paper's nine slowdown SLOs"),
  handler: async (argv) => {
    const { gateCommand: run } = await import('../metrics/commands.js');
    const { gateTableRows } = await import('../metrics/gate.js');
    const { describePercentileMethod } = await import('../metrics/histogram.js');
    const { printJson, printTable } = await import('./output.js');
    const result = await run({
      db: argv.db,
      slo: argv.slo,
      allowLag: argv['allow-lag'],
      allowSaturated: argv['allow-saturated'],
      allowDistorted: argv['allow-distorted'],
      percentileMethod: argv.percentiles as 'linear' | 'nearest-rank',
      ...(argv.run === undefined ? {} : { run: argv.run }),
      ...(argv.baseline === undefined ? {} : { baseline: argv.baseline }),
      ...(argv.junit === undefined ? {} : { junit: argv.junit }),
      ...(argv.markdown === undefined ? {} : { markdown: argv.markdown }),
      ...(argv['reference-run'] === undefined ? {} : { referenceRun: argv['reference-run'] }),
      ...(argv['reference-machine'] === undefined ? {} : { referenceMachine: argv['reference-machine'] }),
    });
    if (argv.json) {
      const { summary: _summary, ...rest } = result;
      printJson('gate', rest);
    } else {
      process.stdout.write(
        `SLO ${result.sloName} (${result.sloFile}) on run ${result.run.id} (${result.run.name})` +
          (result.baseline ? `, baseline run ${result.baseline.id} (${result.baseline.name})` : '') +
          `; percentiles ${describePercentileMethod(result.percentileMethod)}\n`,
      );
      printTable(gateTableRows(result));
    }
    if (result.passed) {
      if (!argv.json) process.stdout.write(`PASS: all ${result.verdicts.length} rules hold\n`);
    } else {
      process.stderr.write(`splitbench: SLO failed: ${result.failed.join('; ')}\n`);
      setExitCode(ExitCode.sloFailed);
    }
  },
};
