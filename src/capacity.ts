/**
 * The capacity a large growable typed array grows to (a sim's queued trace, a summary's exact values).
 *
 * Why not plain doubling all the way: glibc serves an allocation below its mmap threshold from its arenas,
 * and that threshold rises to the size of any mapped block freed (up to 32 MiB). An array grown by copying
 * leaves each old block behind in an arena, as free memory that stays resident until something of its size
 * reuses it; over a 17 M-request sim, the exact values' and queued trace's growth left ~200 MB so. So past
 * `LARGE_BYTES`, the capacity jumps to at least `MAPPED_BYTES`: above the highest threshold, always a
 * mapping of its own, returned to the system when freed. Untouched pages of a fresh mapping take no memory,
 * so the jump costs address space, not memory: only the values written count.
 */

/** Past this many bytes, a growing array is given a mapping of its own (see the module comment). */
export const LARGE_BYTES = 2 ** 20;
/** Above glibc's highest dynamic mmap threshold (32 MiB). */
export const MAPPED_BYTES = 32 * 2 ** 20 + 2 ** 16;

/**
 * Elements for an array of `bytesPer`-byte elements that now holds `cap` and needs `need`: `cap` times
 * `factor` until it fits (at least 64), and past LARGE_BYTES at least MAPPED_BYTES' worth.
 */
export function grownCapacity(cap: number, need: number, bytesPer: number, factor = 2): number {
  let c = Math.max(64, cap);
  while (c < need) c = Math.ceil(c * factor);
  if (c * bytesPer > LARGE_BYTES) c = Math.max(c, Math.ceil(MAPPED_BYTES / bytesPer));
  return c;
}
