/**
 * Default output length without `max_tokens` (vLLM's rule: chat up to the rest of the context, completions 16)
 * and `serve --max-output-tokens N`, the server-side cap on every request's output length.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cappedModel, DEFAULT_HTTP_LIMITS, httpLimitProblems, parseGeneration } from '../../src/server/index.js';
import { runCli } from '../cli/helpers.js';
import { loadCatalog } from '../../src/config/index.js';

const BLOOM = { name: 'bloom-176b', maxContextTokens: loadCatalog().model('bloom-176b').maxContextTokens };
const chat = { messages: [{ role: 'user', content: 'x'.repeat(400) }] }; // 100 prompt tokens

test('without max_tokens: chat may run to the rest of the context, completions 16 (as vLLM)', () => {
  const c = parseGeneration('chat', { ...chat, ignore_eos: true }, BLOOM);
  assert.equal(c.maxTokens, BLOOM.maxContextTokens - 100);
  assert.equal(c.prompts[0]!.output.tokens, BLOOM.maxContextTokens - 100);
  assert.equal(parseGeneration('completions', { prompt: 'hello', ignore_eos: true }, BLOOM).maxTokens, 16);
});

test('--max-output-tokens caps every request: defaulted or given, the output rule runs within the cap', () => {
  const capped = cappedModel(BLOOM, { ...DEFAULT_HTTP_LIMITS, maxOutputTokens: 256 });
  const c = parseGeneration('chat', { ...chat, ignore_eos: true }, capped);
  assert.equal(c.maxTokens, 256);
  assert.equal(c.prompts[0]!.output.tokens, 256);
  assert.equal(parseGeneration('chat', { ...chat, max_tokens: 1000, ignore_eos: true }, capped).maxTokens, 256);
  assert.equal(parseGeneration('chat', { ...chat, max_tokens: 100, ignore_eos: true }, capped).maxTokens, 100, 'below the cap: as asked');
  // Without ignore_eos the deterministic length is drawn from 1..cap, never past it.
  for (let i = 0; i < 50; i++) {
    const r = parseGeneration('chat', { messages: [{ role: 'user', content: `prompt ${i}` }] }, capped);
    assert.ok(r.prompts[0]!.output.tokens >= 1 && r.prompts[0]!.output.tokens <= 256);
  }
  // The context check is on what was asked, as vLLM's: past the context is still a 400.
  assert.throws(() => parseGeneration('chat', { ...chat, max_tokens: BLOOM.maxContextTokens }, capped), /context/);
  assert.deepEqual(cappedModel(BLOOM, DEFAULT_HTTP_LIMITS), BLOOM, 'no flag: no cap');
});

test('--max-output-tokens: a bad value is refused by flag name', async () => {
  assert.deepEqual(httpLimitProblems({ ...DEFAULT_HTTP_LIMITS, maxOutputTokens: 0 }), ['--max-output-tokens: must be an integer ≥ 1, got 0']);
  const r = await runCli(['serve', '--deployment', 'baseline-h100', '--max-output-tokens', '2.5', '--port', '0']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--max-output-tokens: must be a positive integer, got 2\.5/);
});
