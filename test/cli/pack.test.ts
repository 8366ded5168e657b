/**
 * Installable as a package: `npm pack` makes a tarball that installs in an empty folder and runs
 * `splitbench --help` and a short `sim` (what the container image does).
 *
 * Offline: the install must not touch the network. `npm install ./file.tgz --offline` alone cannot work, as
 * npm needs each dependency's registry metadata (packument) to resolve versions, and the cache holds only
 * the tarballs of what `npm ci` installed. So the empty folder gets a lockfile naming exactly the versions
 * (and integrity hashes) of this project's package-lock.json, and `npm ci --offline` takes every tarball
 * from the npm cache (filled by the `npm ci` that set up this checkout). A missing tarball fails with ENOTCACHED.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { PACKAGE_ROOT } from '../../src/paths.js';

const run = promisify(execFile);

interface Lock {
  packages: Record<string, Record<string, unknown>>;
}

test('npm pack: the tarball installs offline in an empty folder and runs --help and a sim', { timeout: 600_000 }, async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'splitbench-pack-'));
  try {
    const me = JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as {
      version: string;
      license: string;
      dependencies: Record<string, string>;
      bin: Record<string, string>;
      engines: Record<string, string>;
      overrides: Record<string, string>;
    };
    // dist/ is already built (npm test compiles first); --ignore-scripts keeps `prepare` from rewriting it under running tests.
    const packed = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: PACKAGE_ROOT, maxBuffer: 64 << 20 });
    const info = (JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[])[0]!;
    const files = new Set(info.files.map((f) => f.path));
    for (const f of ['bin/splitbench.js', 'dist/src/cli/main.js', 'workloads', 'src/report/fonts/DejaVuSans.ttf', 'src/scale/Containerfile', 'package.json']) {
      assert.ok(f === 'workloads' ? [...files].some((x) => x.startsWith('workloads/')) : files.has(f), `the tarball has ${f}`);
    }
    assert.ok(
      ![...files].some((x) => x.startsWith('dist/test/') || (x.startsWith('src/') && x.endsWith('.ts'))),
      'no tests or TypeScript sources in the tarball',
    );
    const tgz = info.filename;

    // The consumer: an empty project depending on the tarball, locked to this project's resolved versions.
    const consumer = path.join(dir, 'consumer');
    const { mkdirSync, copyFileSync } = await import('node:fs');
    mkdirSync(consumer);
    copyFileSync(path.join(dir, tgz), path.join(consumer, tgz));
    const lock = JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package-lock.json'), 'utf8')) as Lock;
    const noPrebuilt = 'node_modules/splitbench/src/worker/no-prebuilt';
    const pkgs: Lock['packages'] = {
      '': { name: 'consumer', version: '1.0.0', dependencies: { splitbench: `file:${tgz}` } },
      'node_modules/splitbench': {
        version: me.version,
        resolved: `file:${tgz}`,
        license: me.license,
        dependencies: me.dependencies,
        bin: me.bin,
        engines: me.engines,
      },
      [noPrebuilt]: { name: 'node-llama-cpp-no-prebuilt', version: '0.0.0' },
    };
    for (const [k, v] of Object.entries(lock.packages)) {
      if (k === '' || !k.startsWith('node_modules/') || v.dev === true) continue;
      pkgs[k] = v.link === true ? { resolved: noPrebuilt, link: true } : v;
    }
    // The same stand-ins for node-llama-cpp's GPU binaries as this project's own overrides.
    const overrides = Object.fromEntries(Object.keys(me.overrides).map((k) => [k, `file:${noPrebuilt}`]));
    writeFileSync(
      path.join(consumer, 'package.json'),
      JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, dependencies: { splitbench: `file:${tgz}` }, overrides }, null, 2),
    );
    writeFileSync(
      path.join(consumer, 'package-lock.json'),
      JSON.stringify({ name: 'consumer', version: '1.0.0', lockfileVersion: 3, requires: true, packages: pkgs }, null, 2),
    );
    try {
      await run('npm', ['ci', '--offline', '--no-audit', '--no-fund'], { cwd: consumer, maxBuffer: 64 << 20 });
    } catch (e) {
      const err = e as { stderr?: string };
      assert.fail(
        `npm ci --offline of the tarball failed (a dependency missing from the npm cache?): ${(err.stderr ?? String(e)).split('\n').slice(0, 6).join(' | ')}`,
      );
    }
    const bin = path.join(consumer, 'node_modules', '.bin', 'splitbench');
    assert.ok(existsSync(bin), 'the splitbench executable is linked');
    const help = await run(bin, ['--help'], { cwd: consumer });
    assert.match(help.stdout, /splitbench <command>/);
    for (const c of ['replay', 'sim', 'merge', 'launch', 'time-server']) assert.match(help.stdout, new RegExp(`splitbench ${c}`));
    const sim = await run(bin, ['sim', '--trace', 'coding', '--deployment', 'splitwise-hh', '--duration', '10', '--db', 'r.db'], { cwd: consumer });
    assert.match(sim.stderr + sim.stdout, /simulated \d+ requests \(\d+ ok, 0 failed/);
    assert.ok(readdirSync(consumer).includes('r.db'), 'the sim wrote its store in the consumer folder');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
