/**
 * Start-up: yargs' help text is not rendered to be cached when a command's handler starts (skipHelpCache).
 * Fails when a yargs upgrade drops or renames the internal it patches (then the start-up pays again).
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import type yargsFactory from 'yargs';
import { skipHelpCache } from '../../src/cli/main.js';

type Usage = { cacheHelpMessage(): void; hasCachedHelpMessage(): boolean };
const yargs = createRequire(import.meta.url)('yargs') as typeof yargsFactory;
const usageOf = (y: unknown): Usage => (y as { getInternalMethods(): { getUsageInstance(): Usage } }).getInternalMethods().getUsageInstance();

test('skipHelpCache leaves the help uncached, where yargs would cache it', () => {
  const plain = yargs([]).command('x', 'a command');
  plain.parseSync(); // help renders from a parsed instance
  usageOf(plain).cacheHelpMessage();
  assert.equal(usageOf(plain).hasCachedHelpMessage(), true, 'yargs caches the help (the work skipped)');
  const patched = yargs([]).command('x', 'a command');
  patched.parseSync();
  skipHelpCache(patched);
  usageOf(patched).cacheHelpMessage();
  assert.equal(usageOf(patched).hasCachedHelpMessage(), false);
});
