/**
 * Import a raw GPU measurement (the JSON written by workloads/profiles/measure/measure_torch.py) as a splitbench
 * profile: prefill points → prefill; decode points grouped by their per-request context → one decode curve per
 * context (ms vs batch size); mixed points → `mixed`. Median replay times are used.
 */
import { z } from 'zod';
import { PROFILE_FORMAT, type ProfileData } from '../engine/index.js';
import { ConfigError } from '../errors.js';
import { parseProfile } from './profiles.js';

const Point = z
  .object({
    prefill_tokens: z.number().int().nonnegative(),
    decode_batch: z.number().int().nonnegative(),
    decode_context: z.number().int().nonnegative(),
    ms_median: z.number().positive(),
  })
  .passthrough();
const Raw = z
  .object({
    meta: z.object({ gpu: z.string().optional(), tensor_parallel: z.number().int().positive().optional() }).passthrough(),
    prefill: z.array(Point),
    decode: z.array(Point),
    mixed: z.array(Point).optional(),
  })
  .passthrough();

export function convertTorchMeasurement(raw: unknown, opts: { model: string; hardware: string; file?: string }): ProfileData {
  const file = opts.file ?? 'measurement';
  const r = Raw.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new ConfigError(`${file}: ${i.path.join('.') || '(document)'}: ${i.message}`);
  }
  const m = r.data;
  const prefill = [...m.prefill].sort((a, b) => a.prefill_tokens - b.prefill_tokens);
  const byCtx = new Map<number, { b: number; ms: number }[]>();
  for (const d of m.decode)
    (byCtx.get(d.decode_context) ?? byCtx.set(d.decode_context, []).get(d.decode_context)!).push({ b: d.decode_batch, ms: d.ms_median });
  const curves = [...byCtx.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([ctx, pts]) => {
      const s = pts.sort((a, b) => a.b - b.b);
      return { contextTokens: ctx, batch: s.map((p) => p.b), ms: s.map((p) => p.ms) };
    });
  const gpu = m.meta.gpu ?? 'unknown GPU';
  const data = {
    format: PROFILE_FORMAT,
    model: opts.model,
    hardware: opts.hardware,
    tp: m.meta.tensor_parallel ?? 1,
    source: `measured with PyTorch on ${gpu} (CUDA-graph replays, median), workloads/profiles/measure/measure_torch.py`,
    prefill: { tokens: prefill.map((p) => p.prefill_tokens), ms: prefill.map((p) => p.ms_median) },
    decode: { curves },
    ...(m.mixed && m.mixed.length > 0
      ? { mixed: m.mixed.map((p) => ({ promptTokens: p.prefill_tokens, decodes: p.decode_batch, contextTokens: p.decode_context, ms: p.ms_median })) }
      : {}),
  };
  return parseProfile(data, file);
}
