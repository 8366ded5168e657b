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

test('decodeChunks and chunkStalls read every varint length, a non-canonical zero, and reject a cut blob', () => {
  // Gaps of 1, 2, 3, 4 and 8 bytes (up to ~2^52 µs) and token counts of 1 and 2 bytes.
  const chunks = [
    { t: 0.000_05, tokens: 1 },
    { t: 0.01, tokens: 200 },
    { t: 1.5, tokens: 1 },
    { t: 300, tokens: 20_000 },
    { t: 4e9, tokens: 1 },
  ];
  const blob = encodeChunks(chunks);
  const got = decodeChunks(blob);
  assert.deepStrictEqual(
    got.map((c) => ({ ...c })),
    chunks.map((c) => ({ t: Math.round(c.t * 1e6) / 1e6, tokens: c.tokens })),
  );
  assert.deepStrictEqual(chunkStalls(blob), { chunks: 5, maxStall: maxStallOf(got) });
  // Gap 10 µs, then a token count of 0 written in two bytes (0x80 0x00), then a chunk of 1 token 20 µs later:
  // the zero-token chunk carries no token, in both readers.
  const odd = Uint8Array.from([10, 1, 5, 0x80, 0x00, 20, 1]);
  assert.deepStrictEqual(
    decodeChunks(odd).map((c) => c.tokens),
    [1, 0, 1],
  );
  assert.deepStrictEqual(chunkStalls(odd), { chunks: 3, maxStall: maxStallOf(decodeChunks(odd)) });
  for (const cut of [blob.subarray(0, blob.length - 1), Uint8Array.from([0x85]), Uint8Array.from([5, 0x81])]) {
    assert.throws(() => decodeChunks(cut), /truncated/);
    assert.throws(() => chunkStalls(cut), /truncated/);
  }
});
