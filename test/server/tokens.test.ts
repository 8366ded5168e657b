/** Tokenizer-free accounting rules of the reference backend (documented in docs/backend.md). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { countTextTokens, hashIds, hashText, planOutput, tokensText, TOKEN_TEXT } from '../../src/server/index.js';

describe('server token rules', () => {
  it('text prompts count ceil(chars / 4) tokens, at least 1', () => {
    assert.equal(countTextTokens(''), 1);
    assert.equal(countTextTokens('abcd'), 1);
    assert.equal(countTextTokens('abcde'), 2);
    assert.equal(countTextTokens('x'.repeat(4096)), 1024);
  });

  it('ignore_eos or min_tokens >= max_tokens gives exactly max_tokens', () => {
    assert.deepEqual(planOutput(32, 0, true, 12345), { tokens: 32, finishReason: 'length' });
    assert.deepEqual(planOutput(32, 32, false, 12345), { tokens: 32, finishReason: 'length' });
    assert.deepEqual(planOutput(32, 40, false, 7), { tokens: 32, finishReason: 'length' });
  });

  it('otherwise the length is lo + hash mod (max − lo + 1), with lo = max(1, min_tokens)', () => {
    assert.deepEqual(planOutput(10, 0, false, 0), { tokens: 1, finishReason: 'stop' });
    assert.deepEqual(planOutput(10, 0, false, 9), { tokens: 10, finishReason: 'length' });
    assert.deepEqual(planOutput(10, 4, false, 3), { tokens: 7, finishReason: 'stop' });
    const seen = new Set<number>();
    for (let h = 0; h < 200; h++) {
      const p = planOutput(20, 5, false, hashIds([h]));
      assert.ok(p.tokens >= 5 && p.tokens <= 20);
      seen.add(p.tokens);
    }
    assert.ok(seen.size > 10, 'lengths spread over the range');
  });

  it('prompt hashes are deterministic and tell prompts apart', () => {
    assert.equal(hashIds([1, 2, 3]), hashIds([1, 2, 3]));
    assert.notEqual(hashIds([1, 2, 3]), hashIds([3, 2, 1]));
    assert.equal(hashText('hello'), hashText('hello'));
    assert.notEqual(hashText('hello'), hashText('hellp'));
  });

  it('n tokens of text are n copies of the token text', () => {
    assert.equal(tokensText(0), '');
    assert.equal(tokensText(3), TOKEN_TEXT + TOKEN_TEXT + TOKEN_TEXT);
  });
});
