/**
 * The telemetry flags of `replay`, validated into typed specs:
 *
 *   --power model[=URL]                         the reference backend's power model (its /metrics); URL: a
 *                                               reference backend started separately (default: the replay's own)
 *   --power ROLE:nvidia-smi[@HOST][,type=T]     `nvidia-smi --query-gpu=... -lms N`, through `ssh HOST` when given
 *   --power ROLE:dcgm=URL[,type=T]              a DCGM exporter's /metrics (DCGM_FI_DEV_POWER_USAGE W,
 *                                               DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION mJ)
 *   --power ROLE:prometheus=URL,metric=NAME[,energy=NAME][,unit=W|mW|kW][,energy-unit=J|mJ|kWh][,type=T]
 *                                               any Prometheus endpoint: NAME in watts, one series per GPU/machine
 *   --scrape URL[,ROLE]                         a server's Prometheus /metrics into timeline samples
 *
 * ROLE tags every sample (prefill, decode, prompt, token, mixed, ... any name); `type=` names the machine or GPU
 * type for pricing (a key of the price table).
 */
import { ConfigError } from '../errors.js';

export type PowerSpec =
  | { readonly kind: 'model'; readonly url?: string; readonly role?: string; readonly text: string }
  | { readonly kind: 'nvidia-smi'; readonly role: string; readonly host?: string; readonly type?: string; readonly text: string }
  | { readonly kind: 'dcgm'; readonly role: string; readonly url: string; readonly type?: string; readonly text: string }
  | {
      readonly kind: 'prometheus';
      readonly role: string;
      readonly url: string;
      readonly metric: string;
      readonly wattsScale: number;
      readonly energyMetric?: string;
      readonly energyScale: number;
      readonly type?: string;
      readonly text: string;
    };

export interface ScrapeSpec {
  readonly url: string;
  readonly role?: string;
  readonly text: string;
}

const ROLE = /^[A-Za-z0-9_.-]+$/;
const HOST = /^[A-Za-z0-9_.@:[\]-]+$/;

function httpUrl(s: string, flag: string, what: string): string {
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new ConfigError(`${what}: not a URL: '${s}'`, { path: flag });
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ConfigError(`${what}: not an http(s) URL: '${s}'`, { path: flag });
  // A bare host:port means its /metrics.
  if (u.pathname === '/' && !s.endsWith('/')) u.pathname = '/metrics';
  return u.href;
}

const WATT_UNITS: Record<string, number> = { W: 1, mW: 1e-3, kW: 1e3 };
const ENERGY_UNITS: Record<string, number> = { J: 1, mJ: 1e-3, kJ: 1e3, Wh: 3600, kWh: 3.6e6 };

/** Parse one `--power` value. */
export function parsePowerSpec(text: string, flag = '--power'): PowerSpec {
  const s = text.trim();
  const bad = (msg: string): never => {
    throw new ConfigError(`'${s}': ${msg}`, {
      path: flag,
      hint: 'forms: model[=URL] | ROLE:nvidia-smi[@HOST] | ROLE:dcgm=URL | ROLE:prometheus=URL,metric=NAME (each may end with ,type=MACHINE_OR_GPU_TYPE)',
    });
  };
  if (s === 'model' || s.startsWith('model=')) {
    const url = s.startsWith('model=') ? httpUrl(s.slice(6), flag, `'${s}'`) : undefined;
    return { kind: 'model', ...(url ? { url } : {}), text: s };
  }
  const colon = s.indexOf(':');
  if (colon <= 0) return bad('expected ROLE:SOURCE (or model)');
  const role = s.slice(0, colon);
  if (!ROLE.test(role)) return bad(`role '${role}' may only hold letters, digits, '_', '.', '-'`);
  const rest = s.slice(colon + 1);
  if (rest === 'model' || rest.startsWith('model=')) {
    const url = rest.startsWith('model=') ? httpUrl(rest.slice(6), flag, `'${s}'`) : undefined;
    return { kind: 'model', role, ...(url ? { url } : {}), text: s };
  }
  // Options after the source: ,key=value (a URL's own commas are not expected).
  const parts = rest.split(',');
  const head = parts[0]!;
  const opts = new Map<string, string>();
  for (const p of parts.slice(1)) {
    const eq = p.indexOf('=');
    if (eq <= 0) return bad(`option '${p}' is not KEY=VALUE`);
    const k = p.slice(0, eq).trim();
    if (opts.has(k)) return bad(`option '${k}' given twice`);
    opts.set(k, p.slice(eq + 1).trim());
  }
  const type = opts.get('type');
  if (type !== undefined && type === '') return bad('type= needs a value');
  const allow = (keys: string[]): void => {
    for (const k of opts.keys()) if (!keys.includes(k)) bad(`unknown option '${k}' (allowed: ${keys.join(', ')})`);
  };
  if (head === 'nvidia-smi' || head.startsWith('nvidia-smi@')) {
    allow(['type']);
    const host = head.startsWith('nvidia-smi@') ? head.slice('nvidia-smi@'.length) : undefined;
    if (host !== undefined && (host === '' || !HOST.test(host) || host.startsWith('-'))) return bad(`bad ssh host '${host}'`);
    return { kind: 'nvidia-smi', role, ...(host ? { host } : {}), ...(type ? { type } : {}), text: s };
  }
  if (head.startsWith('dcgm=')) {
    allow(['type']);
    return { kind: 'dcgm', role, url: httpUrl(head.slice(5), flag, `'${s}'`), ...(type ? { type } : {}), text: s };
  }
  if (head.startsWith('prometheus=')) {
    allow(['metric', 'energy', 'unit', 'energy-unit', 'type']);
    const metric = opts.get('metric');
    if (!metric) return bad('prometheus needs metric=NAME (the power series, in watts unless unit= says otherwise)');
    const unit = opts.get('unit') ?? 'W';
    const eunit = opts.get('energy-unit') ?? 'J';
    if (WATT_UNITS[unit] === undefined) return bad(`unit=${unit}: expected one of ${Object.keys(WATT_UNITS).join(', ')}`);
    if (ENERGY_UNITS[eunit] === undefined) return bad(`energy-unit=${eunit}: expected one of ${Object.keys(ENERGY_UNITS).join(', ')}`);
    const energy = opts.get('energy');
    return {
      kind: 'prometheus',
      role,
      url: httpUrl(head.slice('prometheus='.length), flag, `'${s}'`),
      metric,
      wattsScale: WATT_UNITS[unit]!,
      ...(energy ? { energyMetric: energy } : {}),
      energyScale: ENERGY_UNITS[eunit]!,
      ...(type ? { type } : {}),
      text: s,
    };
  }
  return bad(`unknown power source '${head.split('=')[0]}' (known: model, nvidia-smi, dcgm, prometheus)`);
}

/** Parse one `--scrape URL[,ROLE]` value. */
export function parseScrapeSpec(text: string, flag = '--scrape'): ScrapeSpec {
  const s = text.trim();
  const comma = s.lastIndexOf(',');
  let url = s;
  let role: string | undefined;
  if (comma > 0 && !s.slice(comma + 1).includes('/')) {
    url = s.slice(0, comma);
    role = s.slice(comma + 1).trim();
    if (!ROLE.test(role)) throw new ConfigError(`'${s}': role '${role}' may only hold letters, digits, '_', '.', '-'`, { path: flag });
  }
  return { url: httpUrl(url, flag, `'${s}'`), ...(role ? { role } : {}), text: s };
}
