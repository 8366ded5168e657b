/**
 * `decodeChunks` into a ChunkScratch gives what a fresh decode gives, row after row, longer or shorter; and
 * `chunkStalls` gives the chunk count and the `maxStallOf` of the decoded chunks, bit for bit.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { chunkStalls, ChunkScratch, decodeChunks, encodeChunks } from '../../src/store/codec.js';
import { maxStallOf } from '../../src/store/index.js';

test('decodeChunks with a scratch = a fresh decode, for each blob in turn', () => {
  const blobs = [
    encodeChunks([
      { t: 0.1, tokens: 1 },
      { t: 0.15, tokens: 3 },
      { t: 0.2, tokens: 1 },
    ]),
    encodeChunks([{ t: 1.5, tokens: 2 }]),
    null,
    encodeChunks(Array.from({ length: 300 }, (_, i) => ({ t: 0.25 + i * 0.047, tokens: 1 + (i % 3) }))),
    encodeChunks([
      { t: 0.3, tokens: 1 },
      { t: 0.31, tokens: 0 },
    ]),
  ];
  const scratch = new ChunkScratch();
  for (const b of blobs) {
    const fresh = decodeChunks(b);
    const reused = decodeChunks(b, scratch);
    assert.equal(reused, scratch.list);
    assert.deepStrictEqual(
      reused.map((c) => ({ ...c })),
      fresh.map((c) => ({ ...c })),
    );
    assert.deepStrictEqual(chunkStalls(b), { chunks: fresh.length, maxStall: maxStallOf(fresh) });
  }
  assert.equal(scratch.objs.length, 300, 'objects are reused, not reallocated');
});
