/**
 * Target presets (`replay --target NAME`): what each serving engine needs in a streaming request body to produce
 * exactly the trace's output length and report usage per chunk, and the /metrics series it exposes (mapped to
 * common names by server-metrics.ts). From the engines' documentation and request schemas (docs/telemetry-and-cost.md "Real GPU
 * deployments" has launch recipes; they were not run here).
 */
import { ConfigError } from '../errors.js';

export interface TargetPreset {
  readonly name: string;
  readonly description: string;
  /** Body fields that fix the output length and ask for usage, for `outputTokens` tokens on `endpoint`. */
  fields(outputTokens: number, endpoint: 'completions' | 'chat'): Record<string, unknown>;
  /** Whether the engine can force the exact output length (ignore EOS). */
  readonly exactLength: boolean;
  /** Per-chunk cumulative usage: 'yes', 'maybe' (version-dependent; replay falls back to the final usage and chunk counts), 'no'. */
  readonly continuousUsage: 'yes' | 'maybe' | 'no';
  /** Metric-name prefixes its /metrics uses. */
  readonly metricPrefixes: readonly string[];
}

const usage = (continuous: boolean): Record<string, unknown> => ({
  stream_options: continuous ? { include_usage: true, continuous_usage_stats: true } : { include_usage: true },
});

const vllmLike = (n: number): Record<string, unknown> => ({ max_tokens: n, min_tokens: n, ignore_eos: true, ...usage(true) });

export const TARGET_PRESETS: Readonly<Record<string, TargetPreset>> = {
  vllm: {
    name: 'vllm',
    description: 'vLLM (and the reference backend): max_tokens = min_tokens = output, ignore_eos, stream_options.continuous_usage_stats',
    fields: vllmLike,
    exactLength: true,
    continuousUsage: 'yes',
    metricPrefixes: ['vllm:'],
  },
  sglang: {
    name: 'sglang',
    description: "SGLang's OpenAI API: max_tokens, min_tokens and ignore_eos (SGLang extras), continuous_usage_stats (SGLang ≥ late 2025)",
    fields: vllmLike,
    exactLength: true,
    continuousUsage: 'maybe',
    metricPrefixes: ['sglang:'],
  },
  trtllm: {
    name: 'trtllm',
    description: "trtllm-serve: max_tokens, min_tokens and ignore_eos (its OpenAI protocol's extra sampling params), include_usage",
    fields: vllmLike,
    exactLength: true,
    continuousUsage: 'maybe',
    metricPrefixes: ['trtllm_', 'vllm:'],
  },
  dynamo: {
    name: 'dynamo',
    description:
      'NVIDIA Dynamo frontend: max_tokens, min_tokens, ignore_eos (also as nvext.ignore_eos); per-chunk usage may be missing (chunk counting fallback)',
    fields: (n) => ({ ...vllmLike(n), nvext: { ignore_eos: true } }),
    exactLength: true,
    continuousUsage: 'maybe',
    metricPrefixes: ['dynamo_frontend_', 'dynamo_component_'],
  },
  openai: {
    name: 'openai',
    description:
      'a plain OpenAI-compatible API: max_completion_tokens (chat) or max_tokens (completions), include_usage; no ignore_eos, so outputs may end early',
    fields: (n, endpoint) => ({ ...(endpoint === 'chat' ? { max_completion_tokens: n } : { max_tokens: n }), ...usage(false) }),
    exactLength: false,
    continuousUsage: 'no',
    metricPrefixes: [],
  },
};

export const TARGET_NAMES: readonly string[] = Object.keys(TARGET_PRESETS);

export function targetPreset(name: string, flag = '--target'): TargetPreset {
  const p = Object.hasOwn(TARGET_PRESETS, name) ? TARGET_PRESETS[name] : undefined;
  if (!p) throw new ConfigError(`unknown target '${name}'; known: ${TARGET_NAMES.join(', ')}`, { path: flag });
  return p;
}
