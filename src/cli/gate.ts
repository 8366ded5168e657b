/** `splitbench gate`: judge a run against an SLO file; exit 0 pass, 1 failed rules, 2 bad input, 3 unusable run. */
import type { CommandModule } from 'yargs';
import { ExitCode } from '../errors.js';
import { RESULTS_FLAGS } from '../flags.js';
import { addFlags, readFlags, withFlags } from '../flagspec.js';
import { setExitCode } from './main.js';
import { resultsReading } from './output.js';

type Args = Record<string, unknown>;

const GATE_FLAGS = {
  slo: { type: 'string', required: true, requiresArg: true, describe: 'SLO file: a path, or a bundled name (splitwise, interactive)' },
  run: { type: 'string', requiresArg: true, describe: 'run id, name or uuid; default: the latest run' },
  baseline: { type: 'string', requiresArg: true, describe: "baseline run for rules like 'e2e.p99 <= baseline * 1.05'" },
  junit: { type: 'string', requiresArg: true, describe: 'write JUnit XML here (one testcase per rule)' },
  markdown: { type: 'string', requiresArg: true, describe: 'append a Markdown table to this file (CI job summary; created if missing)' },
  'allow-lag': {
    type: 'boolean',
    default: false,
    describe: 'judge a run even if it is flagged for schedule lag (the client fell behind the trace)',
  },
  'allow-saturated': {
    type: 'boolean',
    default: false,
    describe: 'judge a run even if it is saturated (achieved < 95% of offered, or its queue grew through the run)',
  },
  'allow-distorted': {
    type: 'boolean',
    default: false,
    describe: 'judge a live run even if its self-check flagged it distorted (twin deviation, emission delay, coalescing or send lag)',
  },
  ...withFlags(RESULTS_FLAGS, {
    json: { describe: 'print the verdicts as JSON' },
    'reference-run': { describe: 'unloaded run to compute slowdowns against (slowdown rules)' },
  }),
} as const;

export const gateCommand: CommandModule<object, Args> = {
  command: 'gate',
  describe: 'evaluate an SLO file against a run (release gate): exit 0 pass, 1 an SLO failed, 3 run unusable',
  builder: (y) =>
    addFlags(y, GATE_FLAGS)
      .example('$0 gate --slo interactive', 'judge the latest run against the bundled chat-service SLOs')
      .example('$0 gate --slo slo.yaml --run candidate --baseline release-1.4 --junit gate.xml', 'regression gate in CI')
      .example('$0 gate --slo splitwise --run 7 --markdown "$GITHUB_STEP_SUMMARY"', "the paper's nine slowdown SLOs"),
  handler: async (argv) => {
    const f = readFlags('gate', GATE_FLAGS, argv);
    const { gateCommand: run } = await import('../metrics/commands.js');
    const { gateTableRows } = await import('../metrics/gate.js');
    const { describePercentileMethod } = await import('../metrics/histogram.js');
    const { printJson, printTable } = await import('./output.js');
    const result = await run({
      slo: f.slo,
      allowLag: f.allowLag,
      allowSaturated: f.allowSaturated,
      allowDistorted: f.allowDistorted,
      ...resultsReading(f),
      ...(f.run === undefined ? {} : { run: f.run }),
      ...(f.baseline === undefined ? {} : { baseline: f.baseline }),
      ...(f.junit === undefined ? {} : { junit: f.junit }),
      ...(f.markdown === undefined ? {} : { markdown: f.markdown }),
    });
    if (f.json) {
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
      if (!f.json) process.stdout.write(`PASS: all ${result.verdicts.length} rules hold\n`);
    } else {
      process.stderr.write(`splitbench: SLO failed: ${result.failed.join('; ')}\n`);
      setExitCode(ExitCode.sloFailed);
    }
  },
};
