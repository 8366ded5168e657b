import { openTrace, type OpenTraceOptions } from './open.js';
import { applyTransforms, type TraceTransforms } from './transforms.js';
import { writeTrace } from './writers.js';

/** Streams `input` (any readable format) through the transforms into `out` in format `to`. */
export async function convertTrace(
  input: string,
  o: { to: string; out: string; open?: OpenTraceOptions; transforms?: TraceTransforms },
): Promise<{ written: number; skipped: number; from: string; to: string }> {
  const src = openTrace(input, o.open);
  const written = await writeTrace(applyTransforms(src, o.transforms ?? {}), o.to, o.out);
  return { written, skipped: src.skipped(), from: src.format, to: o.to };
}
