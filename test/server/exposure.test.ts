/** Regression: the pure parts of `serve`'s HTTP-layer flags: loopback detection, the bind warning, flag checks. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_HTTP_LIMITS, exposureWarning, httpLimitProblems, isLoopback } from '../../src/server/index.js';

describe('serve: exposure warning and flag checks', () => {
  it('loopback addresses are recognised; others get a warning that says whether a key is required', () => {
    for (const a of ['127.0.0.1', '127.4.5.6', '::1', '[::1]', '::ffff:127.0.0.1', 'localhost']) assert.ok(isLoopback(a), a);
    for (const a of ['0.0.0.0', '::', '10.0.0.7', '192.168.1.2', 'fe80::1']) assert.ok(!isLoopback(a), a);
    assert.equal(exposureWarning('127.0.0.1', undefined), undefined);
    assert.match(exposureWarning('0.0.0.0', undefined)!, /warning: listening on 0\.0\.0\.0.*without authentication.*SPLITBENCH_API_KEY/);
    assert.match(exposureWarning('0.0.0.0', 'k')!, /need the API key/);
  });

  it('limit flags out of range are named', () => {
    assert.deepEqual(httpLimitProblems(DEFAULT_HTTP_LIMITS), []);
    const p = httpLimitProblems({ headerTimeoutS: 0, bodyTimeoutS: -1, maxBodyMiB: 64, maxBufferedMiB: 32 });
    assert.equal(p.length, 3);
    assert.match(p[0]!, /^--header-timeout/);
    assert.match(p[1]!, /^--body-timeout/);
    assert.match(p[2]!, /--max-buffered-mib \(32\) must be at least --max-body-mib \(64\)/);
  });
});
