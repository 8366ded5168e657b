/**
 * `decodeChunks` into a ChunkScratch gives what a fresh decode gives, row after row, longer or shorter;
 * `chunkStalls` gives the chunk count and the `maxStallOf` of the decoded chunks, bit for bit; and
 * `forEachBlobTbtGap` visits the TBT samples `forEachTbtGap` finds in the decoded chunks, bit for bit.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { chunkStalls, ChunkScratch, decodeChunks, encodeChunks, forEachBlobTbtGap } from '../../src/store/codec.js';
import { maxStallOf } from '../../src/store/index.js';
import { forEachTbtGap } from '../../src/metrics/formulas.js';
import { seededRandom } from '../../src/engine/schedulers.js';

function blobTbt(b: Uint8Array): [number, number][] {
  const out: [number, number][] = [];
  forEachBlobTbtGap(b, (g, c) => out.push([g, c]));
  return out;
}

function varint(x: number): number[] {
  const out: number[] = [];
  for (; x >= 0x80; x = Math.floor(x / 0x80)) out.push((x % 0x80) | 0x80);
  out.push(x);
  return out;
}

function chunkTbt(chunks: Parameters<typeof forEachTbtGap>[0]): [number, number][] {
  const out: [number, number][] = [];
  forEachTbtGap(chunks, (g, c) => out.push([g, c]));
  return out;
}

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
    if (b) assert.deepStrictEqual(blobTbt(b), chunkTbt(fresh));
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
  assert.deepStrictEqual(blobTbt(odd), [[25 / 1e6, 1]], 'the zero-token chunk is skipped: the next token 25 µs after the first');
  assert.deepStrictEqual(blobTbt(blob), chunkTbt(got));
  for (const cut of [blob.subarray(0, blob.length - 1), Uint8Array.from([0x85]), Uint8Array.from([5, 0x81])]) {
    assert.throws(() => decodeChunks(cut), /truncated/);
    assert.throws(() => chunkStalls(cut), /truncated/);
  }
});

test('TBT samples are whole-microsecond gaps over tokens, the same from a blob, its decoded chunks and the chunks it was made of', () => {
  const rnd = seededRandom(3);
  for (let row = 0; row < 200; row++) {
    // Chunk times as a sim makes them: a send late in a run, iteration times that are not whole microseconds.
    const send = 500 + rnd() * 100;
    let t = send + rnd();
    const raw: { t: number; tokens: number }[] = [];
    for (let i = 0, n = 1 + Math.floor(rnd() * 60); i < n; i++) {
      t += 0.03 + rnd() * 0.05;
      raw.push({ t: t - send, tokens: rnd() < 0.1 ? 0 : 1 + Math.floor(rnd() * 3) });
    }
    const blob = encodeChunks(raw);
    const fromBlob = blobTbt(blob);
    assert.deepStrictEqual(chunkTbt(decodeChunks(blob)), fromBlob);
    assert.deepStrictEqual(chunkTbt(raw), fromBlob, 'chunks not yet stored give the stored samples');
    // Each sample is the exact quotient of whole microseconds, rounded once.
    const carrying = raw.filter((c) => c.tokens > 0).map((c) => ({ us: Math.round(c.t * 1e6), tokens: c.tokens }));
    assert.deepStrictEqual(
      fromBlob,
      carrying.slice(1).map((c, i) => [(c.us - carrying[i]!.us) / (1e6 * c.tokens), c.tokens]),
    );
  }
  // A 44,265 µs gap is 0.044265 s (the double nearest); subtracting the decoded seconds of chunks 1,000,112 µs
  // and 1,044,377 µs after send gives a neighbour of it instead (0.04426500000000022).
  const blob = Uint8Array.from([...varint(1_000_112), 1, ...varint(44_265), 1]);
  assert.deepStrictEqual(
    decodeChunks(blob).map((c) => c.t),
    [1_000_112 / 1e6, 1_044_377 / 1e6],
  );
  assert.notEqual(1_044_377 / 1e6 - 1_000_112 / 1e6, 0.044265);
  assert.deepStrictEqual(blobTbt(blob), [[0.044265, 1]]);
});
