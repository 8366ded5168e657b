/**
 * Engine throughput: ~78,000 conversation-like requests (Poisson 130 req/s for 600 s, sizes shaped like
 * the Azure conversation trace) on the 40-machine Splitwise-HH paper cluster, on the virtual clock, in
 * the default mode and in the SplitwiseSim-compatible mode. Prints wall time, events and memory.
 * Run alone: `node dist/test/bench/engine.js`.
 */
import { VirtualClock, EventRank } from '../../src/engine/clock.js';
import { createCluster } from '../../src/engine/cluster.js';
import { seededRandom } from '../../src/engine/schedulers.js';
import type { RequestObserver } from '../../src/engine/api.js';
import { loadDeployment, loadEngineData } from '../../src/config/index.js';

const data = loadEngineData();

function requests(rate: number, seconds: number, seed: number): { at: number; p: number; o: number }[] {
  const rnd = seededRandom(seed);
  const out: { at: number; p: number; o: number }[] = [];
  let t = 0;
  for (;;) {
    t += -Math.log(1 - rnd()) / rate;
    if (t >= seconds) break;
    // conversation-like: median prompt ~1000 (long tail), bimodal outputs (50–100 and 350–450)
    const p = Math.max(2, Math.round(Math.exp(6.9 + 0.8 * gauss(rnd))));
    const o = rnd() < 0.6 ? 50 + Math.floor(rnd() * 60) : 330 + Math.floor(rnd() * 130);
    out.push({ at: t, p: Math.min(p, 8000), o });
  }
  return out;
}

function gauss(rnd: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
}

function bench(mode: 'default' | 'splitwise'): void {
  const reqs = requests(130, 600, 7);
  const clock = new VirtualClock();
  const cluster = createCluster(loadDeployment('splitwise-hh-paper'), { clock, data, ...(mode === 'splitwise' ? { compat: 'splitwise' as const } : {}) });
  let done = 0;
  let tokenCalls = 0;
  const obs: RequestObserver = {
    onTokens: () => void tokenCalls++,
    onDone: () => void done++,
    onFailed: () => {},
  };
  let i = 0;
  const feed = (): void => {
    const r = reqs[i]!;
    cluster.submit({ id: String(i), promptTokens: r.p, outputTokens: r.o }, obs);
    i++;
    if (i < reqs.length) clock.at(reqs[i]!.at, feed, EventRank.arrival);
  };
  clock.at(reqs[0]!.at, feed, EventRank.arrival);
  const heap0 = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  clock.run();
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuS = (cpu.user + cpu.system) / 1e6;
  const heapMb = (process.memoryUsage().heapUsed - heap0) / 2 ** 20;
  console.log(
    `engine ${mode.padEnd(9)}: ${reqs.length} requests on ${cluster.machines().length} machines, ${done} done, ` +
      `${cluster.inFlight()} never completed, ${tokenCalls} token callbacks, simulated ${clock.now().toFixed(0)} s in ${wall.toFixed(2)} s wall (${cpuS.toFixed(2)} s CPU) ` +
      `(${(reqs.length / wall).toFixed(0)} req/s), heap +${heapMb.toFixed(0)} MiB`,
  );
}

if (process.argv[2] !== 'splitwise') bench('default');
if (process.argv[2] !== 'default') bench('splitwise');
