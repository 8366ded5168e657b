/** `splitbench serve`: the reference backend, an OpenAI-compatible streaming server over an emulated GPU cluster. */
import type { CommandModule } from 'yargs';
import { setExitCode } from './main.js';

interface ServeArgs {
  deployment: string;
  model?: string;
  host: string;
  port: number;
  'time-scale': number;
  'max-queue': number;
  compat?: string;
  seed?: number;
}

export const serveCommand: CommandModule<object, ServeArgs> = {
  command: 'serve',
  describe: 'Run the reference backend: an OpenAI-compatible streaming server emulating a GPU cluster',
  builder: (y) =>
    y
      .option('deployment', {
        type: 'string',
        demandOption: true,
        requiresArg: true,
        describe: 'bundled deployment name (e.g. splitwise-hh, baseline-h100) or a deployment YAML file',
      })
      .option('model', { type: 'string', requiresArg: true, describe: "catalog model to serve instead of the deployment's" })
      .option('host', { type: 'string', default: '127.0.0.1', requiresArg: true, describe: 'address to listen on' })
      .option('port', { type: 'number', default: 8000, requiresArg: true, describe: 'port to listen on (0: a free port)' })
      .option('time-scale', {
        type: 'number',
        default: 1,
        requiresArg: true,
        describe: 'run the emulated GPUs K times faster than real ones (reported times stay in real-GPU seconds)',
      })
      .option('max-queue', {
        type: 'number',
        default: 10000,
        requiresArg: true,
        describe: 'requests in flight beyond which new ones get HTTP 429 with Retry-After',
      })
      .option('compat', { type: 'string', choices: ['splitwise'], describe: "SplitwiseSim-compatible engine semantics" })
      .option('seed', { type: 'number', requiresArg: true, describe: 'seed of the random cluster scheduler' })
      .example('$0 serve --deployment splitwise-hh', 'serve the phase-split Splitwise-HH cluster on http://127.0.0.1:8000')
      .example('$0 serve --deployment baseline-h100 --model llama3-70b --port 0 --time-scale 10', 'a monolithic H100 cluster, 10x faster, on a free port')
      .example('$0 serve --deployment my-cluster.yaml --max-queue 512', 'a deployment file, refusing work past 512 requests in flight'),
  handler: async (argv) => {
    const { serve } = await import('../server/serve.js');
    const code = await serve({
      deployment: argv.deployment,
      host: argv.host,
      port: argv.port,
      timeScale: argv['time-scale'],
      maxQueue: argv['max-queue'],
      ...(argv.model === undefined ? {} : { model: argv.model }),
      ...(argv.compat === 'splitwise' ? { compat: 'splitwise' as const } : {}),
      ...(argv.seed === undefined ? {} : { seed: argv.seed }),
    });
    setExitCode(code);
  },
};
