/** `splitbench launch slurm|kubernetes`: write a ready sbatch script or Indexed Job manifests for shards or chunks (sweep or provision plans). */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { setExitCode } from './main.js';

type Args = Record<string, unknown>;

export const launchCommand: CommandModule<object, Args> = {
  command: 'launch <launcher>',
  describe: 'write a Slurm sbatch script or Kubernetes Indexed Job manifests that run a replay as N shards or a sweep or provision as K chunks, then merge',
  builder: (y: Argv) =>
    y
      .positional('launcher', { choices: ['slurm', 'kubernetes'], describe: 'what starts the copies' })
      .option('shards', { type: 'number', describe: 'run `-- replay ...` as N shards (one per task / pod), then `splitbench merge`' })
      .option('chunks', { type: 'number', describe: 'run `-- sweep ...` or `-- provision ...` as K chunks of one plan (job array / Indexed Job), then its `--collect`' })
      .option('parallel', { type: 'number', describe: 'with --chunks: at most P chunks at once (Slurm %P, Job parallelism)' })
      .option('image', { type: 'string', describe: 'Kubernetes: container image with splitbench (default splitbench:latest)' })
      .option('cpus', { type: 'number', describe: 'CPUs per shard or chunk (default 2)' })
      .option('mem', { type: 'string', describe: 'memory per shard or chunk (default 4G on Slurm, 4Gi on Kubernetes)' })
      .option('node-selector', { type: 'string', array: true, describe: 'Kubernetes: key=value a load-generator node must have (repeatable); GPU nodes are avoided anyway' })
      .option('exclude', { type: 'string', describe: 'Slurm: nodes to keep load generators off (sbatch --exclude, e.g. the GPU nodes)' })
      .option('constraint', { type: 'string', describe: 'Slurm: node feature for load generators (sbatch --constraint)' })
      .option('shared-dir', { type: 'string', describe: 'folder all nodes see, for shard stores, plans and results (default splitbench-shared on Slurm, /results on Kubernetes)' })
      .option('pvc', { type: 'string', describe: 'Kubernetes: ReadWriteMany PersistentVolumeClaim mounted at --shared-dir (default splitbench-results)' })
      .option('namespace', { type: 'string', describe: 'Kubernetes namespace of the Jobs' })
      .option('lead-s', { type: 'number', describe: 'seconds from launch to the shards\' shared start (default 30 on Slurm, from the script\'s start; 600 on Kubernetes, from now)' })
      .option('out', { type: 'string', describe: 'merged results store (default results/splitbench.db; Kubernetes: a file in --shared-dir)' })
      .option('name', { type: 'string', describe: 'job name (default splitbench-replay / splitbench-sweep / splitbench-provision)' })
      .option('splitbench', { type: 'string', describe: 'Slurm: the splitbench command on the nodes (default splitbench)' })
      .option('file', { type: 'string', describe: 'write the launch file here (default: print it)' })
      .example('$0 launch slurm --shards 4 --exclude gpu[01-08] -- replay --trace coding --url http://gpu01:8000 --time-url http://gpu01:8000', 'four load-generator nodes against one server; sbatch the output')
      .example('$0 launch slurm --chunks 16 --parallel 4 -- sweep --trace coding --deployment splitwise-hh,baseline-h100 --rates 10:100:10', 'a sweep plan as a job array of 16, four at a time; run the output with bash')
      .example('$0 launch slurm --chunks 8 -- provision --trace coding --design splitwise-hh --objective cost-opt --rate 70 --max-machines 40', 'every configuration of at most 40 machines, in 8 array tasks, then the collect job')
      .example('$0 launch kubernetes --shards 3 --image ghcr.io/me/splitbench:0.1 --node-selector pool=cpu -- replay --trace coding --url http://vllm:8000', 'an Indexed Job of three shards plus the merge Job; kubectl apply -f the output'),
  handler: async (argv: ArgumentsCamelCase<Args>) => {
    const { resolveLaunchOptions, launchFile } = await import('../scale/launch.js');
    const { writeFileSync } = await import('node:fs');
    // Everything after `--` is the replay or sweep command line.
    const rest = (argv._ as unknown[]).slice(1).map(String);
    const o = resolveLaunchOptions(argv, rest);
    const text = launchFile(o);
    if (argv.file !== undefined) {
      writeFileSync(String(argv.file), text, { mode: o.launcher === 'slurm' ? 0o755 : 0o644 });
      process.stderr.write(`splitbench launch: wrote ${String(argv.file)} (run uuid ${o.runUuid})\n`);
    } else process.stdout.write(text);
    setExitCode(0);
  },
};
