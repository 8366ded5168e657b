/** `splitbench profile`: measure a live endpoint's prefill and decode times into a profile file. */
import { httpUrl } from '../flags.js';
import { defineCommand } from './define.js';

const PROFILE_FLAGS = {
  url: {
    type: 'string',
    required: true,
    describe: 'base URL of an OpenAI-compatible server (one instance: concurrent requests must batch together)',
    parse: httpUrl,
  },
  model: { type: 'string', defaultText: 'the first /v1/models lists', describe: 'model to request' },
  out: { type: 'string', required: true, describe: 'profile file to write (JSON, splitbench-profile/1)' },
  'prompt-sizes': { type: 'string', default: '128,256,512,1024,2048', describe: 'prompt lengths for prefill, tokens' },
  'batch-sizes': { type: 'string', default: '1,2,4,8,16,32', describe: 'concurrent decode requests' },
  contexts: { type: 'string', default: '512', describe: 'mean KV context per decode request, tokens; one curve each' },
  'decode-tokens': { type: 'number', integer: true, min: 8, default: 64, describe: 'output tokens of each decode request' },
  repeats: { type: 'number', integer: true, min: 1, default: 3, describe: 'repeats per prefill point; the median is kept' },
  estimator: {
    type: 'string',
    choices: ['median', 'min'],
    default: 'median',
    describe: 'how prefill repeats combine (min suits a busy host: delays only add)',
  },
  'time-scale': {
    type: 'number',
    positive: true,
    default: 1,
    describe: 'the target runs K times faster than real GPUs (a reference backend with --time-scale K): times × K',
  },
  'profile-model': { type: 'string', defaultText: "the served model's", describe: 'model name written in the file' },
  hardware: { type: 'string', default: 'unknown', describe: 'hardware name written in the file (e.g. h100-80gb)' },
  tp: { type: 'number', integer: true, min: 1, default: 1, describe: 'tensor-parallel degree written in the file' },
  'api-key': { type: 'string', defaultText: '$SPLITBENCH_API_KEY', describe: 'Bearer token' },
  json: { type: 'boolean', describe: 'print the profile as JSON too' },
} as const;

export const profileCommand = defineCommand({
  command: 'profile',
  describe: "measure a live endpoint's prefill time vs prompt length and decode iteration time vs batch size; write a profile file",
  flags: PROFILE_FLAGS,
  examples: [
    ['$0 profile --url http://127.0.0.1:8000 --hardware h100-80gb --tp 8 --out my.profile.json', 'profile a running server'],
    [
      '$0 profile --url http://127.0.0.1:8000 --prompt-sizes 128,1024,4096 --batch-sizes 1,8,32 --contexts 512,4096 --out p.json',
      'fewer points, two context curves',
    ],
  ],
  read: async (f, problems) => {
    const { parseSizes } = await import('../telemetry/profile.js');
    const promptSizes = problems.try(() => parseSizes(f.promptSizes, '--prompt-sizes')) ?? [];
    const batchSizes = problems.try(() => parseSizes(f.batchSizes, '--batch-sizes')) ?? [];
    const contexts = problems.try(() => parseSizes(f.contexts, '--contexts')) ?? [];
    for (const c of contexts)
      if (c - f.decodeTokens / 2 < 1)
        problems.add('--contexts', `${c} is too small for --decode-tokens ${f.decodeTokens} (prompt = context − decode tokens / 2 must be ≥ 1)`);
    return { ...f, promptSizes, batchSizes, contexts };
  },
  run: async (f, { json }) => {
    const { ConfigError } = await import('../errors.js');
    const { profileEndpoint } = await import('../telemetry/profile.js');
    const fs = await import('node:fs');
    const { promptSizes, batchSizes, contexts } = f;
    const apiKey = f.apiKey ?? (process.env.SPLITBENCH_API_KEY || undefined);
    const r = await profileEndpoint({
      url: f.url,
      ...(f.model ? { model: f.model } : {}),
      promptSizes,
      batchSizes,
      contexts,
      decodeTokens: f.decodeTokens,
      repeats: f.repeats,
      ...(f.estimator === 'min' ? { estimator: 'min' as const } : {}),
      timeScale: f.timeScale,
      ...(f.profileModel ? { profileModel: f.profileModel } : {}),
      hardware: f.hardware,
      tp: f.tp,
      ...(apiKey ? { apiKey } : {}),
      log: (l) => process.stderr.write(`splitbench profile: ${l}\n`),
    });
    try {
      fs.writeFileSync(f.out, `${JSON.stringify(r.profile, null, 2)}\n`);
    } catch (e) {
      throw new ConfigError(`cannot write the profile: ${(e as Error).message}`, { path: '--out' });
    }
    if (f.json) json(r.profile);
    else
      process.stdout.write(`wrote ${f.out} (${promptSizes.length} prefill points, ${contexts.length} decode curve(s) of ${batchSizes.length} batch sizes)\n`);
    return 0;
  },
});
