import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { sha256File } from '../../src/trace/index.js';
import { tmpFile } from './helpers.js';

test('sha256File hashes the bytes of a file, streamed', async () => {
  const text = 'TIMESTAMP,ContextTokens,GeneratedTokens\n'.repeat(50000); // > one read chunk
  const f = tmpFile('h.csv', text);
  assert.equal(await sha256File(f), createHash('sha256').update(text).digest('hex'));
  assert.equal(await sha256File(tmpFile('e', '')), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
});
