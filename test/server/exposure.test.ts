/** Regression: the pure parts of `serve`'s HTTP-layer flags: loopback detection, the bind warning, flag checks. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { ConfigError } from '../../src/errors.js';
import { DEFAULT_HTTP_LIMITS, exposureWarning, httpLimitProblems, isLoopback, listenError } from '../../src/server/index.js';

/** The error of listening on host:port (undefined: it listened, and was closed again). */
function listenFailure(host: string, port: number): Promise<Error | undefined> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', resolve);
    s.listen(port, host, () => s.close(() => resolve(undefined)));
  });
}

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

  it('a failed listen names the flag: a port in use, an address not on this host; other errors pass unchanged', async () => {
    const held = net.createServer();
    await new Promise<void>((resolve) => held.listen(0, '127.0.0.1', resolve));
    const port = (held.address() as net.AddressInfo).port;
    try {
      const inUse = listenError(await listenFailure('127.0.0.1', port), '127.0.0.1', port);
      assert.ok(inUse instanceof ConfigError);
      assert.equal(inUse.path, '--port');
      assert.match(inUse.message, new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use`));
    } finally {
      held.close();
    }
    const foreign = await listenFailure('192.0.2.1', 0); // TEST-NET-1: on no interface here
    const notHere = listenError(foreign, '192.0.2.1', 0);
    assert.ok(notHere instanceof ConfigError);
    assert.equal(notHere.path, '--host');
    assert.match(notHere.message, /cannot listen on 192\.0\.2\.1:0 \(EADDRNOTAVAIL\)/);
    const other = new Error('boom');
    assert.equal(listenError(other, '127.0.0.1', 1), other);
  });
});
