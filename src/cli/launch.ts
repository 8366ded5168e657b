/** `splitbench launch slurm|kubernetes`: write a ready sbatch script or Indexed Job manifests for shards or chunks (sweep or provision plans). */
import { LAUNCH_FLAGS } from '../scale/options.js';
import { defineCommand } from './define.js';

export const launchCommand = defineCommand({
  command: 'launch <launcher>',
  describe: 'write a Slurm sbatch script or Kubernetes Indexed Job manifests that run a replay as N shards or a sweep or provision as K chunks, then merge',
  flags: LAUNCH_FLAGS,
  positionals: (y) => y.positional('launcher', { choices: ['slurm', 'kubernetes'], describe: 'what starts the copies' }),
  examples: [
    [
      '$0 launch slurm --shards 4 --exclude gpu[01-08] -- replay --trace coding --url http://gpu01:8000',
      'four load-generator nodes (one shard each, clocks checked against a time server on the first) against one server; sbatch the output',
    ],
    [
      '$0 launch slurm --chunks 16 --parallel 4 -- sweep --trace coding --deployment splitwise-hh,baseline-h100 --rates 10:100:10',
      'a sweep plan as a job array of 16, four at a time; run the output with bash',
    ],
    [
      '$0 launch slurm --chunks 8 -- provision --trace coding --design splitwise-hh --objective cost-opt --rate 70 --max-machines 40',
      'every configuration of at most 40 machines, in 8 array tasks, then the collect job',
    ],
    [
      '$0 launch kubernetes --shards 3 --image ghcr.io/me/splitbench:0.1 --node-selector pool=cpu -- replay --trace coding --url http://vllm:8000',
      'a time server with a start barrier, an Indexed Job of three shards and the merge Job; kubectl apply -f the output',
    ],
  ],
  // Everything after `--` is the replay or sweep command line.
  read: async (f, problems, argv) => ({
    o: (await import('../scale/launch.js')).resolveLaunchOptions(String(argv.launcher ?? ''), f, (argv._ as unknown[]).slice(1).map(String), problems),
    file: f.file,
  }),
  run: async ({ o, file }) => {
    const { launchFile } = await import('../scale/launch.js');
    const { writeFileSync } = await import('node:fs');
    const text = launchFile(o);
    if (file !== undefined) {
      writeFileSync(file, text, { mode: o.launcher === 'slurm' ? 0o755 : 0o644 });
      process.stderr.write(`splitbench launch: wrote ${file} (run uuid ${o.runUuid})\n`);
    } else process.stdout.write(text);
    return 0;
  },
});
