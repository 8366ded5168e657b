/**
 * Growth of large typed arrays (src/capacity.ts): by the factor while small, and past LARGE_BYTES to a
 * capacity above glibc's highest mmap threshold, so the array is a mapping of its own.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { grownCapacity, LARGE_BYTES, MAPPED_BYTES } from '../src/capacity.js';

test('arrays grow by their factor while small, and past LARGE_BYTES to a mapping of their own', () => {
  assert.equal(grownCapacity(0, 1, 8), 64);
  assert.equal(grownCapacity(64, 65, 8), 128);
  assert.equal(grownCapacity(1024, 1025, 8, 1.5), 1536);
  assert.equal(grownCapacity(1000, 5000, 8), 8000);
  // 1 MiB exactly is still small; one more element's growth is large.
  assert.equal(grownCapacity(2 ** 16, 2 ** 17, 8), 2 ** 17);
  const big = grownCapacity(2 ** 17, 2 ** 17 + 1, 8);
  assert.ok(big * 8 >= MAPPED_BYTES && big * 8 > LARGE_BYTES, `${big}`);
  for (const bytesPer of [2, 4, 8]) {
    const c = grownCapacity(LARGE_BYTES / bytesPer, LARGE_BYTES / bytesPer + 1, bytesPer, 1.5);
    assert.ok(c * bytesPer >= MAPPED_BYTES, `${bytesPer}-byte elements: ${c}`);
  }
  // Past the mapped size, plain growth again; never less than asked for.
  const huge = MAPPED_BYTES / 8 + 10;
  assert.equal(grownCapacity(huge, huge + 1, 8), 2 * huge);
  assert.equal(grownCapacity(10, 10_000_000, 4), 2 ** 24);
});
