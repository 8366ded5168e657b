/** The Telemetry session on its own: fake nvidia-smi without an energy counter, a Prometheus source that fails. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadPrices } from '../../src/cost/index.js';
import { Telemetry, parseNvidiaSmiLine } from '../../src/telemetry/session.js';
import { parsePowerSpec } from '../../src/telemetry/specs.js';
import type { MachineRow, PowerSampleRow, TimelineSampleRow } from '../../src/store/api.js';
import { fakeDcgm, writeFakeNvidiaSmi } from './fakes.js';

function sink(): {
  power: PowerSampleRow[];
  timeline: TimelineSampleRow[];
  machines: MachineRow[];
  addPowerSample(r: PowerSampleRow): void;
  addTimelineSample(r: TimelineSampleRow): void;
  addMachines(r: readonly MachineRow[]): void;
} {
  const s = {
    power: [] as PowerSampleRow[],
    timeline: [] as TimelineSampleRow[],
    machines: [] as MachineRow[],
    addPowerSample: (r: PowerSampleRow) => s.power.push(r),
    addTimelineSample: (r: TimelineSampleRow) => s.timeline.push(r),
    addMachines: (r: readonly MachineRow[]) => s.machines.push(...r),
  };
  return s;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('nvidia-smi lines: values, [N/A], garbage', () => {
  assert.deepEqual(parseNvidiaSmiLine('0, 312.45, 123456789'), { index: '0', watts: 312.45, counterJ: 123456.789 });
  assert.deepEqual(parseNvidiaSmiLine('3, 70.1, [N/A]'), { index: '3', watts: 70.1 });
  assert.deepEqual(parseNvidiaSmiLine('1, [Not Supported]'), { index: '1', watts: null });
  assert.equal(parseNvidiaSmiLine('index, power.draw [W]'), undefined);
  assert.equal(parseNvidiaSmiLine('0, abc'), undefined);
});

test('nvidia-smi without total_energy_consumption: retried with power alone, energy by the trapezoid rule', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'splitbench-tel-'));
  const exe = writeFakeNvidiaSmi(dir);
  const s = sink();
  const t0 = performance.now();
  const logs: string[] = [];
  process.env.FAKE_NVSMI_MODE = 'noenergy';
  try {
    const tel = new Telemetry(
      {
        power: [parsePowerSpec('decode:nvidia-smi,type=dgx-a100')],
        scrape: [],
        intervalMs: 50,
        prices: loadPrices(),
        now: () => (performance.now() - t0) / 1000,
        nvidiaSmi: exe,
        log: (l) => logs.push(l),
      },
      s,
    );
    await tel.start();
    // Two node start-ups (the refused query, then power alone) before the readings stream.
    for (let i = 0; i < 100 && s.power.filter((r) => r.machineId.endsWith('/gpu0')).length < 4; i++) await sleep(50);
    const notes = await tel.stop();
    const src = notes.sources[0]!;
    assert.equal(src.energyMethod, 'trapezoid');
    assert.equal(src.failures, 0);
    assert.ok(logs.some((l) => /integrating power\.draw/.test(l)));
    const gpu0 = s.power.filter((r) => r.machineId.endsWith('/gpu0'));
    assert.ok(gpu0.length >= 3, `${gpu0.length} samples`);
    assert.ok(gpu0.every((r) => r.role === 'decode' && r.source === 'nvidia-smi' && r.watts === 100));
    const last = gpu0[gpu0.length - 1]!;
    const expect = 100 * (last.t - gpu0[0]!.t);
    assert.ok(Math.abs(last.energyJ! - expect) < 1e-6, `${last.energyJ} vs ${expect}`);
    // One GPU of a DGX-A100 is priced at its eighth.
    assert.equal(s.machines.length, 2);
    assert.equal(s.machines[0]!.pricePerHour, 2.2);
    assert.equal(s.machines[0]!.gpus, 1);
    assert.equal(s.machines[0]!.pool, 'decode');
  } finally {
    delete process.env.FAKE_NVSMI_MODE;
  }
});

test('an unreachable or failing HTTP source is a gap with a note, and a missing executable too', async () => {
  const dcgm = await fakeDcgm({ resetAt: 100, dieAfter: 2 });
  const s = sink();
  const t0 = performance.now();
  const tel = new Telemetry(
    {
      power: [
        parsePowerSpec(`decode:dcgm=${dcgm.url}`),
        parsePowerSpec('prefill:prometheus=http://127.0.0.1:9/metrics,metric=p'),
        parsePowerSpec('x:nvidia-smi'),
      ],
      scrape: [],
      intervalMs: 50,
      now: () => (performance.now() - t0) / 1000,
      nvidiaSmi: path.join(os.tmpdir(), 'no-such-nvidia-smi'),
    },
    s,
  );
  try {
    await tel.start();
    await sleep(300);
    const notes = await tel.stop();
    const [d, p, n] = notes.sources;
    assert.ok(d!.failures >= 1 && /HTTP 500/.test(d!.lastError!), JSON.stringify(d));
    assert.equal(d!.machines, 2);
    const nulls = s.power.filter((r) => r.source === 'dcgm' && r.watts === null);
    assert.ok(nulls.length >= 2, 'a NULL row per GPU');
    assert.ok(p!.failures >= 1 && p!.machines === 0, JSON.stringify(p));
    assert.ok(n!.failures === 1 && /ENOENT|exited/.test(n!.lastError!), JSON.stringify(n));
  } finally {
    await dcgm.close();
  }
});
