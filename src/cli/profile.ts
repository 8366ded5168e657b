/** `splitbench profile`: measure a live endpoint's prefill and decode times into a profile file. */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { setExitCode } from './main.js';
import { printJson } from './output.js';

type Args = Record<string, unknown>;

export const profileCommand: CommandModule<object, Args> = {
  command: 'profile',
  describe: "measure a live endpoint's prefill time vs prompt length and decode iteration time vs batch size; write a profile file",
  builder: (y: Argv) =>
    y
      .option('url', {
        type: 'string',
        demandOption: true,
        describe: 'base URL of an OpenAI-compatible server (one instance: concurrent requests must batch together)',
      })
      .option('model', { type: 'string', describe: 'model to request (default: the first /v1/models lists)' })
      .option('out', { type: 'string', demandOption: true, describe: 'profile file to write (JSON, splitbench-profile/1)' })
      .option('prompt-sizes', { type: 'string', describe: 'prompt lengths for prefill, tokens (default 128,256,512,1024,2048)' })
      .option('batch-sizes', { type: 'string', describe: 'concurrent decode requests (default 1,2,4,8,16,32)' })
      .option('contexts', { type: 'string', describe: 'mean KV context per decode request, tokens; one curve each (default 512)' })
      .option('decode-tokens', { type: 'number', describe: 'output tokens of each decode request (default 64)' })
      .option('repeats', { type: 'number', describe: 'repeats per prefill point; the median is kept (default 3)' })
      .option('estimator', { choices: ['median', 'min'], describe: 'how prefill repeats combine (default median; min suits a busy host: delays only add)' })
      .option('time-scale', {
        type: 'number',
        describe: 'the target runs K times faster than real GPUs (a reference backend with --time-scale K): times × K (default 1)',
      })
      .option('profile-model', { type: 'string', describe: "model name written in the file (default: the served model's)" })
      .option('hardware', { type: 'string', describe: "hardware name written in the file (e.g. h100-80gb; default 'unknown')" })
      .option('tp', { type: 'number', describe: 'tensor-parallel degree written in the file (default 1)' })
      .option('api-key', { type: 'string', describe: 'Bearer token (default: $SPLITBENCH_API_KEY)' })
      .option('json', { type: 'boolean', describe: 'print the profile as JSON too' })
      .example('$0 profile --url http://127.0.0.1:8000 --hardware h100-80gb --tp 8 --out my.profile.json', 'profile a running server')
      .example(
        '$0 profile --url http://127.0.0.1:8000 --prompt-sizes 128,1024,4096 --batch-sizes 1,8,32 --contexts 512,4096 --out p.json',
        'fewer points, two context curves',
      ),
  handler: async (argv: ArgumentsCamelCase<Args>) => {
    const { ConfigError } = await import('../errors.js');
    const { profileEndpoint, parseSizes } = await import('../telemetry/profile.js');
    const fs = await import('node:fs');
    const problems: string[] = [];
    const tryGet = <T>(f: () => T, dflt: T): T => {
      try {
        return f();
      } catch (e) {
        problems.push((e as Error).message);
        return dflt;
      }
    };
    const num = (key: string, flag: string, dflt: number, min: number, int: boolean): number => {
      const v = argv[key];
      if (v === undefined) return dflt;
      const n = Number(v);
      if (!Number.isFinite(n) || n < min || (int && !Number.isInteger(n)))
        problems.push(`${flag}: expected ${int ? 'an integer' : 'a number'} >= ${min}, got '${String(v)}'`);
      return n;
    };
    let url = '';
    try {
      const u = new URL(String(argv.url));
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(u.protocol);
      url = u.href;
    } catch {
      problems.push(`--url: not an http(s) URL: '${String(argv.url)}'`);
    }
    const promptSizes = tryGet(() => parseSizes(argv.promptSizes ?? '128,256,512,1024,2048', '--prompt-sizes'), []);
    const batchSizes = tryGet(() => parseSizes(argv.batchSizes ?? '1,2,4,8,16,32', '--batch-sizes'), []);
    const contexts = tryGet(() => parseSizes(argv.contexts ?? '512', '--contexts'), []);
    const decodeTokens = num('decodeTokens', '--decode-tokens', 64, 8, true);
    const repeats = num('repeats', '--repeats', 3, 1, true);
    const timeScale = num('timeScale', '--time-scale', 1, Number.MIN_VALUE, false);
    const tp = num('tp', '--tp', 1, 1, true);
    for (const c of contexts)
      if (c - decodeTokens / 2 < 1)
        problems.push(`--contexts: ${c} is too small for --decode-tokens ${decodeTokens} (prompt = context − decode tokens / 2 must be ≥ 1)`);
    if (problems.length > 0)
      throw new ConfigError(problems.length === 1 ? problems[0]! : `${problems.length} problems: ${problems.join('; ')}`, {
        hint: 'run `splitbench profile --help`',
      });
    const apiKey = (argv.apiKey as string | undefined) ?? (process.env.SPLITBENCH_API_KEY || undefined);
    const r = await profileEndpoint({
      url,
      ...(argv.model ? { model: String(argv.model) } : {}),
      promptSizes,
      batchSizes,
      contexts,
      decodeTokens,
      repeats,
      ...(argv.estimator === 'min' ? { estimator: 'min' as const } : {}),
      timeScale,
      ...(argv.profileModel ? { profileModel: String(argv.profileModel) } : {}),
      hardware: argv.hardware ? String(argv.hardware) : 'unknown',
      tp,
      ...(apiKey ? { apiKey } : {}),
      log: (l) => process.stderr.write(`splitbench profile: ${l}\n`),
    });
    try {
      fs.writeFileSync(String(argv.out), `${JSON.stringify(r.profile, null, 2)}\n`);
    } catch (e) {
      throw new ConfigError(`cannot write the profile: ${(e as Error).message}`, { path: '--out' });
    }
    if (argv.json) printJson('profile', r.profile);
    else
      process.stdout.write(
        `wrote ${String(argv.out)} (${promptSizes.length} prefill points, ${contexts.length} decode curve(s) of ${batchSizes.length} batch sizes)\n`,
      );
    setExitCode(0);
  },
};
