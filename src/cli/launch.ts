/** `splitbench launch slurm|kubernetes`: write a ready sbatch script or Indexed Job manifests for shards or chunks (sweep or provision plans). */
import { defineCommand } from './define.js';

const LAUNCH_FLAGS = {
  shards: { type: 'number', describe: 'run `-- replay ...` as N shards (one per task / pod), then `splitbench merge`' },
  chunks: {
    type: 'number',
    describe: 'run `-- sweep ...` or `-- provision ...` as K chunks of one plan (job array / Indexed Job), then its `--collect`',
  },
  parallel: { type: 'number', describe: 'with --chunks: at most P chunks at once (Slurm %P, Job parallelism)' },
  image: {
    type: 'string',
    describe: 'Kubernetes: container image with splitbench on its PATH (default splitbench:VERSION, as built from src/scale/Containerfile)',
  },
  cpus: { type: 'number', defaultText: '2', describe: 'CPUs per shard or chunk' },
  mem: { type: 'string', defaultText: '4G on Slurm, 4Gi on Kubernetes', describe: 'memory per shard or chunk' },
  'node-selector': { type: 'string', array: true, describe: 'Kubernetes: key=value a load-generator node must have (repeatable)' },
  'avoid-gpu-nodes': {
    type: 'boolean',
    describe: 'Kubernetes: keep every pod off nodes labelled nvidia.com/gpu.present (required node anti-affinity; default off)',
  },
  'merge-deadline-s': {
    type: 'number',
    describe:
      'Kubernetes: the merge Job fails after this many seconds without every shard or chunk (naming the missing indexes), as the start barrier does; it fails at once when one fails (default 86400)',
  },
  'per-node': { type: 'number', defaultText: '1: one shard per node, --nodes = shards', describe: 'Slurm --shards: shards per node' },
  'max-offset-ms': {
    type: 'number',
    describe: '--shards: passed to `splitbench merge --max-offset-ms` (largest accepted clock offset, ms; default 1)',
  },
  exclude: { type: 'string', describe: 'Slurm: nodes to keep load generators off (sbatch --exclude, e.g. the GPU nodes)' },
  constraint: { type: 'string', describe: 'Slurm: node feature for load generators (sbatch --constraint)' },
  'shared-dir': {
    type: 'string',
    describe: 'folder all nodes see, for shard stores, plans and results (default splitbench-shared on Slurm, /results on Kubernetes)',
  },
  pvc: { type: 'string', defaultText: 'splitbench-results', describe: 'Kubernetes: ReadWriteMany PersistentVolumeClaim mounted at --shared-dir' },
  namespace: { type: 'string', describe: 'Kubernetes namespace of the Jobs' },
  'lead-s': {
    type: 'number',
    describe:
      "seconds to the shards' shared start: Slurm from the batch script's start (default 30), Kubernetes from the moment every shard is at the start barrier (default 10)",
  },
  out: {
    type: 'string',
    describe:
      "--shards: merged results store (default run.db in the run's folder of --shared-dir, one per run; Kubernetes: a file name there); written on local disk, then moved into place",
  },
  name: { type: 'string', describe: 'job name (default splitbench-replay / splitbench-sweep / splitbench-provision)' },
  splitbench: { type: 'string', defaultText: 'splitbench', describe: 'the splitbench command on the nodes or in the image' },
  file: { type: 'string', defaultText: 'print it', describe: 'write the launch file here' },
} as const;

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
