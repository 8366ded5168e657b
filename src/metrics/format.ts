/** Text rendering of run summaries: one column per run, one row per figure. */
import { APPROXIMATION, describePercentileMethod, type StatField, type Stats } from './histogram.js';
import type { RunSummary } from './summary.js';

type Cell = string | number | null | undefined;

/** Seconds for people: µs below 1 ms, ms below 1 s, else s. */
export function fmtSeconds(s: number | undefined): string | undefined {
  if (s === undefined || !Number.isFinite(s)) return undefined;
  const a = Math.abs(s);
  if (a === 0) return '0 ms';
  if (a < 1e-3) return `${(s * 1e6).toFixed(0)} µs`;
  if (a < 1) return `${(s * 1e3).toFixed(a < 0.1 ? 2 : 1)} ms`;
  return `${s.toFixed(3)} s`;
}

export function fmtNum(n: number | undefined, digits = 2): string | undefined {
  if (n === undefined || !Number.isFinite(n)) return undefined;
  if (Math.abs(n) >= 1e5) return n.toExponential(3);
  return n.toFixed(digits);
}

function fmtPct(n: number | undefined): string | undefined {
  return n === undefined ? undefined : `${(n * 100).toFixed(2)}%`;
}

const STAT_ROWS: [StatField, string][] = [
  ['p50', 'p50'],
  ['p90', 'p90'],
  ['p99', 'p99'],
  ['p999', 'p99.9'],
  ['max', 'max'],
  ['mean', 'mean'],
];

/** A side-by-side table of several runs' summaries (first column: the figure). */
export function formatSummaries(summaries: readonly RunSummary[]): string {
  const rows: Cell[][] = [];
  const add = (label: string, f: (s: RunSummary) => Cell): void => {
    const cells = summaries.map(f);
    if (cells.every((c) => c === undefined || c === null)) return;
    rows.push([label, ...cells]);
  };
  rows.push(['run', ...summaries.map((s) => `${s.run.id} ${s.run.name}`)]);
  add('kind / status', (s) => `${s.run.kind}${s.run.compat ? ' (compat)' : ''} / ${s.run.status}`);
  add('model', (s) => s.run.model ?? undefined);
  add('percentiles', (s) => {
    const approx = approximateMetrics(s);
    return approx.length === 0
      ? describePercentileMethod(s.percentileMethod)
      : `${describePercentileMethod(s.percentileMethod)}; ${approx.join(', ')}: ${APPROXIMATION}`;
  });
  add('requests ok / total', (s) => `${s.counts.ok} / ${s.counts.total}`);
  add('warm-up (excluded)', (s) => (s.counts.warmup > 0 ? s.counts.warmup : undefined));
  add('errors', (s) => {
    const c = s.counts;
    if (c.total === c.ok) return undefined;
    const parts = [
      c.error ? `${c.error} error` : '',
      c.timeout ? `${c.timeout} timeout` : '',
      c.cancelled ? `${c.cancelled} cancelled` : '',
      c.neverCompleted ? `${c.neverCompleted} never-completed` : '',
    ].filter(Boolean);
    return parts.join(', ');
  });
  add('error rate', (s) => fmtPct(s.errorRate));
  add('output length mismatches', (s) => (s.outputMismatches > 0 ? s.outputMismatches : undefined));
  add('saturated', (s) => (s.saturated ? 'YES (below)' : undefined));
  add('arrival window', (s) => fmtSeconds(s.throughput.windowS));
  add('offered req/s', (s) => (s.throughput.windowS > 0 ? fmtNum(s.throughput.offeredRequestsPerS, 3) : undefined));
  add('throughput req/s (window)', (s) => fmtNum(s.throughput.requestsPerS, 3));
  add('input tokens/s (window)', (s) => fmtNum(s.throughput.inputTokensPerS, 1));
  add('output tokens/s (window)', (s) => fmtNum(s.throughput.outputTokensPerS, 1));
  add('completed within window req/s', (s) => (s.throughput.windowS > 0 ? fmtNum(s.throughput.completedInWindowPerS, 3) : undefined));
  add('drain after last arrival', (s) => (s.throughput.windowS > 0 ? `${fmtSeconds(s.throughput.drainS)}, ${s.throughput.drainRequests} requests` : undefined));
  add('steady span (makespan)', (s) => fmtSeconds(s.throughput.spanS));
  add('makespan req/s', (s) => fmtNum(s.throughput.makespanRequestsPerS, 3));
  add('makespan output tokens/s', (s) => fmtNum(s.throughput.makespanOutputTokensPerS, 1));
  add('goodput req/s', (s) => (s.goodput ? fmtNum(s.goodput.requestsPerS, 3) : undefined));
  add('goodput fraction', (s) => (s.goodput ? fmtPct(s.goodput.fraction) : undefined));
  const dist = (label: string, get: (s: RunSummary) => Stats | undefined, fmt: (n: number) => string | undefined): void => {
    for (const [k, name] of STAT_ROWS)
      add(`${label} ${name}`, (s) => {
        const st = get(s);
        return st ? fmt(st[k]) : undefined;
      });
  };
  dist('TTFT', (s) => s.latencyS.ttft, fmtSeconds);
  dist('TPOT', (s) => s.latencyS.tpot, fmtSeconds);
  dist('TBT', (s) => s.latencyS.tbt, fmtSeconds);
  dist('E2E', (s) => s.latencyS.e2e, fmtSeconds);
  for (const [k, label] of [
    ['queue', 'queue'],
    ['prefill', 'prefill'],
    ['kv_transfer', 'KV transfer'],
    ['decode_wait', 'decode wait'],
    ['decode', 'decode'],
  ] as const) {
    add(`${label} p50`, (s) => fmtSeconds(s.phasesS[k]?.p50));
    add(`${label} p99`, (s) => fmtSeconds(s.phasesS[k]?.p99));
  }
  // Means of the parts, which add up to the mean TTFT and E2E (overhead: what the client saw beyond the server's parts).
  add('TTFT mean = queue + prefill (+ overhead)', (s) => {
    const b = s.breakdown;
    return b
      ? `${fmtSeconds(b.ttft)} = ${fmtSeconds(b.queue)} + ${fmtSeconds(b.prefill)}${s.run.kind === 'sim' ? '' : ` + ${fmtSeconds(b.ttftOverhead)}`}`
      : undefined;
  });
  add('E2E mean = TTFT + KV + decode wait + decode (+ overhead)', (s) => {
    const b = s.breakdown;
    return b
      ? `${fmtSeconds(b.e2e)} = ${fmtSeconds(b.ttft)} + ${fmtSeconds(b.kvTransfer)} + ${fmtSeconds(b.decodeWait)} + ${fmtSeconds(b.decode)}${s.run.kind === 'sim' ? '' : ` + ${fmtSeconds(b.afterFirstOverhead)}`}`
      : undefined;
  });
  add('lag p50', (s) => fmtSeconds(s.latencyS.lag?.p50));
  add('lag p99', (s) => fmtSeconds(s.latencyS.lag?.p99));
  add('lag max', (s) => fmtSeconds(s.latencyS.lag?.max));
  add('lag flagged', (s) => (s.run.lagFlagged ? 'YES' : undefined));
  add('simulated twin', (s) => (s.run.twinRunId === null ? undefined : `sim run ${s.run.twinRunId}`));
  add('distorted', (s) => (s.run.distorted ? 'YES (below)' : s.run.twinRunId !== null ? 'no' : undefined));
  add('slowdown reference', (s) => s.slowdown?.reference);
  for (const k of ['ttft', 'tbt', 'e2e'] as const) {
    for (const st of ['p50', 'p90', 'p99'] as const) {
      add(`slowdown ${k.toUpperCase()} ${st}`, (s) => {
        const v = s.slowdown?.[k]?.[st];
        return v === undefined ? undefined : `${v.toFixed(2)}x`;
      });
    }
  }
  const poolNames = [...new Set(summaries.flatMap((s) => Object.keys(s.pools ?? {})))].sort();
  for (const p of poolNames) {
    add(`pool ${p}: requests`, (s) => s.pools?.[p]?.requests);
    add(`pool ${p}: TTFT p99`, (s) => fmtSeconds(s.pools?.[p]?.latencyS.ttft?.p99));
    add(`pool ${p}: E2E p99`, (s) => fmtSeconds(s.pools?.[p]?.latencyS.e2e?.p99));
  }
  const pct = (v: number | undefined): string | undefined => (v === undefined ? undefined : `${(v * 100).toFixed(1)}%`);
  if (summaries.some((s) => s.sessions)) {
    add('sessions (completed)', (s) => (s.sessions ? `${s.sessions.sessions} (${s.sessions.completed})` : undefined));
    add('turns per session: mean / max', (s) => (s.sessions ? `${s.sessions.turnsMean.toFixed(2)} / ${s.sessions.turnsMax}` : undefined));
    add('session duration p50 / p99', (s) =>
      s.sessions?.durationS ? `${fmtSeconds(s.sessions.durationS.p50) ?? '-'} / ${fmtSeconds(s.sessions.durationS.p99) ?? '-'}` : undefined,
    );
  }
  if (summaries.some((s) => s.prefixCache)) {
    add('prefix cache: token hit rate', (s) => pct(s.prefixCache?.tokenHitRate));
    add('prefix cache: request hit rate', (s) => pct(s.prefixCache?.requestHitRate));
    add('prefill tokens saved', (s) => s.prefixCache?.savedTokens);
    add('TTFT p50 hit / miss', (s) =>
      s.prefixCache ? `${fmtSeconds(s.prefixCache.ttftHitS?.p50) ?? '-'} / ${fmtSeconds(s.prefixCache.ttftMissS?.p50) ?? '-'}` : undefined,
    );
    add('TTFT p99 hit / miss', (s) =>
      s.prefixCache ? `${fmtSeconds(s.prefixCache.ttftHitS?.p99) ?? '-'} / ${fmtSeconds(s.prefixCache.ttftMissS?.p99) ?? '-'}` : undefined,
    );
    const cpools = [...new Set(summaries.flatMap((s) => Object.keys(s.prefixCache?.pools ?? {})))].sort();
    for (const p of cpools) add(`pool ${p}: prefix token hit rate`, (s) => pct(s.prefixCache?.pools[p]?.tokenHitRate));
    const cm = [...new Set(summaries.flatMap((s) => Object.keys(s.prefixCache?.machines ?? {})))].sort();
    for (const m of cm) add(`machine ${m}: prefix token hit rate`, (s) => pct(s.prefixCache?.machines[m]?.tokenHitRate));
  }
  const powerPools = [...new Set(summaries.flatMap((s) => Object.keys(s.power?.pools ?? {})))].sort();
  for (const p of powerPools) {
    add(`power ${p} mean / peak`, (s) => {
      const pp = s.power?.pools[p];
      return pp ? `${pp.meanW.toFixed(0)} W / ${pp.peakW.toFixed(0)} W` : undefined;
    });
  }
  add('power mean / peak', (s) => (s.power ? `${s.power.meanW.toFixed(0)} W / ${s.power.peakW.toFixed(0)} W` : undefined));
  add('energy per request', (s) => (s.power?.energyPerRequestJ === undefined ? undefined : `${fmtNum(s.power.energyPerRequestJ, 1)} J`));
  add('energy per output token', (s) => (s.power?.energyPerOutputTokenJ === undefined ? undefined : `${fmtNum(s.power.energyPerOutputTokenJ, 3)} J`));
  add('machine cost', (s) => (s.cost ? `$${s.cost.dollars.toFixed(4)}` : undefined));
  add('$ per 1M output tokens', (s) => (s.cost?.dollarsPerMOutputTokens === undefined ? undefined : `$${s.cost.dollarsPerMOutputTokens.toFixed(3)}`));
  // Cost details (src/cost): input tokens, requests, energy cost, per-pool shares.
  add('$ per 1M input tokens', (s) => (s.cost?.dollarsPerMInputTokens === undefined ? undefined : `$${s.cost.dollarsPerMInputTokens.toFixed(3)}`));
  add('$ per request', (s) => (s.cost?.dollarsPerRequest === undefined ? undefined : `$${fmtNum(s.cost.dollarsPerRequest, 5)}`));
  add('$ per good request', (s) => (s.cost?.dollarsPerGoodRequest === undefined ? undefined : `$${fmtNum(s.cost.dollarsPerGoodRequest, 5)}`));
  add('energy cost', (s) => (s.cost?.energyDollars === undefined ? undefined : `$${fmtNum(s.cost.energyDollars, 5)} at $${s.cost.usdPerKwh ?? '?'}/kWh`));
  const costPools = [...new Set(summaries.flatMap((s) => [...Object.keys(s.cost?.pools ?? {}), ...Object.keys(s.power?.pools ?? {})]))].sort();
  for (const p of costPools) {
    add(`pool ${p}: energy per output token`, (s) => {
      const v = s.power?.pools[p]?.energyPerOutputTokenJ;
      return v === undefined ? undefined : `${fmtNum(v, 3)} J`;
    });
    add(`pool ${p}: $ per 1M output tokens`, (s) => {
      const v = s.cost?.pools?.[p]?.dollarsPerMOutputTokens;
      return v === undefined ? undefined : `$${v.toFixed(3)}`;
    });
  }
  const notes = summaries.filter((s) => s.saturated).map((s) => `SATURATED: run ${s.run.id} (${s.run.name}): ${s.saturated}`);
  for (const s of summaries) if (s.run.distorted) notes.push(`DISTORTED: run ${s.run.id} (${s.run.name}): ${s.run.distortedReason ?? 'no reason recorded'}`);
  return [formatRows(rows), ...notes].join('\n');
}

function formatRows(rows: Cell[][]): string {
  const cells = rows.map((r) => r.map((c) => (c === null || c === undefined ? '-' : String(c))));
  const widths: number[] = [];
  for (const r of cells)
    r.forEach((c, i) => {
      widths[i] = Math.max(widths[i] ?? 0, c.length);
    });
  return cells
    .map((r) =>
      r
        .map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** The distributions of a summary whose percentiles are approximate (population above the exact limit). */
export function approximateMetrics(s: RunSummary): string[] {
  const out: string[] = [];
  const scan = (prefix: string, rec: Partial<Record<string, Stats>> | undefined): void => {
    for (const [k, st] of Object.entries(rec ?? {})) if (st?.approximate) out.push(`${prefix}${k}`);
  };
  scan('', s.latencyS);
  scan('', s.phasesS);
  if (s.slowdown) {
    const { reference: _r, matched: _m, ...dists } = s.slowdown;
    scan('slowdown.', dists as Partial<Record<string, Stats>>);
  }
  return out;
}
