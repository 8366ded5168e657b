/**
 * The look of every chart: sizes for a two-column paper (≈ 3.5 in at 700×440 CSS px, fonts ≥ 12 px), the
 * Okabe–Ito colour-blind-safe palette (one colour per run, by run order, across every chart) and the
 * bundled font, so the same data renders to the same bytes on every machine.
 */
import path from 'node:path';
import { GlobalFonts } from '@napi-rs/canvas';
import { PACKAGE_ROOT } from '../paths.js';

export const CHART_WIDTH = 700;
export const CHART_HEIGHT = 440;
/** PNG pixel density (CSS px × 2). */
export const PNG_SCALE = 2;

export const FONT_FAMILY = 'SplitbenchSans';
export const FONT_SIZE = 13;
export const TITLE_SIZE = 15;
export const TEXT_COLOR = '#222222';
export const GRID_COLOR = '#e3e3e3';

/**
 * Okabe & Ito (2008), ordered for contrast on white: blue, vermillion, bluish green, orange, reddish
 * purple, sky blue, yellow (last: weak on white). Black is kept out: it draws SLO limits and FAIL cells.
 * Runs (or seed groups of runs) take these in report order; nothing else uses them.
 */
export const OKABE_ITO = ['#0072B2', '#D55E00', '#009E73', '#E69F00', '#CC79A7', '#56B4E9', '#F0E442'] as const;

/** Line dashes used after the palette wraps (run 8 onwards). */
export const DASHES: readonly (readonly number[])[] = [[], [8, 4], [2, 3], [10, 3, 2, 3]];

export function runColor(i: number): string {
  return OKABE_ITO[i % OKABE_ITO.length]!;
}
export function runDash(i: number): number[] {
  return [...DASHES[Math.floor(i / OKABE_ITO.length) % DASHES.length]!];
}

/**
 * Pools have their own encoding, never a run colour: a grey fill in bars (run colour as the outline) and a
 * dash in lines (run colour as the stroke). Known pools keep the same look in every chart.
 */
const POOL_ORDER = ['mixed', 'prompt', 'token'];
const POOL_FILLS = ['#8c8c8c', '#3d3d3d', '#cfcfcf', '#616161', '#b0b0b0'] as const;
const POOL_DASHES: readonly (readonly number[])[] = [[], [9, 4], [2, 3], [12, 3, 2, 3], [5, 5]];
function poolIndex(pool: string, all: readonly string[]): number {
  const k = POOL_ORDER.indexOf(pool);
  if (k >= 0) return k;
  const others = all.filter((p) => !POOL_ORDER.includes(p)).sort();
  return POOL_ORDER.length + Math.max(0, others.indexOf(pool));
}
export function poolFill(pool: string, all: readonly string[] = []): string {
  return POOL_FILLS[poolIndex(pool, all) % POOL_FILLS.length]!;
}
export function poolDash(pool: string, all: readonly string[] = []): number[] {
  return [...POOL_DASHES[poolIndex(pool, all) % POOL_DASHES.length]!];
}

/** Colour with alpha, from '#rrggbb'. */
export function withAlpha(hex: string, alpha: number): string {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${alpha})`;
}

/** Breakdown chart: queue, prefill, TTFT overhead (greys); KV transfer, decode wait, 2nd-token overhead (blue-greys). */
export const BREAKDOWN_FILLS = ['#3a3a3a', '#8a8a8a', '#f0f0f0', '#4f6f8f', '#a3b8cc', '#e8eef4'] as const;
/** Pass / FAIL cells: light and dark grey plus a ✓ / ✗ mark, so they read without colour and clash with no run. */
export const PASS_FILL = '#e4e4e4';
export const PASS_TEXT = '#1a1a1a';
export const FAIL_FILL = '#262626';
export const FAIL_TEXT = '#ffffff';
/** SLO limits and the Pareto frontier. */
export const LIMIT_COLOR = '#000000';

export const FONT_DIR = path.join(PACKAGE_ROOT, 'src', 'report', 'fonts');

let fontsReady = false;
/** Register the bundled DejaVu Sans under FONT_FAMILY (once per process). */
export function ensureFonts(): void {
  if (fontsReady) return;
  for (const file of ['DejaVuSans.ttf', 'DejaVuSans-Bold.ttf']) {
    const key = GlobalFonts.registerFromPath(path.join(FONT_DIR, file), FONT_FAMILY);
    if (!key) throw new Error(`cannot load the bundled font ${path.join(FONT_DIR, file)}`);
  }
  fontsReady = true;
}
