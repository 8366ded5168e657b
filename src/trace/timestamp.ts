/**
 * Azure trace timestamps → epoch microseconds, parsed by hand: `Date` keeps only milliseconds, and the
 * traces carry 100-ns (2023: `2023-11-16 18:17:03.9799600`) or varying (2024: `2024-05-10 00:00:00.012345+00:00`)
 * fractional precision. Accepted: `YYYY-MM-DD[ T]HH:MM:SS[.fraction][Z|±HH:MM|±HHMM]`; no zone means UTC.
 * The result keeps sub-microsecond digits as a fraction (a double holds epoch µs to about 0.25 µs).
 */

function digits(b: Uint8Array, from: number, n: number): number {
  let v = 0;
  for (let i = from; i < from + n; i++) {
    const d = b[i]! - 48;
    if (d < 0 || d > 9) return NaN;
    v = v * 10 + d;
  }
  return v;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
export function daysFromCivil(y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** Inverse of daysFromCivil: [year, month, day]. */
export function civilFromDays(z: number): [number, number, number] {
  z += 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp + (mp < 10 ? 3 : -9);
  return [yoe + era * 400 + (m <= 2 ? 1 : 0), m, d];
}

const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10];

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * Epoch microseconds of an Azure-trace timestamp, or NaN when the text is not one. With `baseS` (epoch
 * seconds), microseconds since that base instead: small numbers that keep the 100-ns digit exactly.
 */
export function parseAzureTimestampUs(s: string, baseS = 0): number {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 127) return NaN;
  const b = Buffer.from(s, 'latin1');
  return parseAzureTimestampBytes(b, 0, b.length, baseS);
}

/** parseAzureTimestampUs over the ASCII bytes [start, end) of a buffer (surrounding blanks ignored). */
export function parseAzureTimestampBytes(b: Uint8Array, start: number, end: number, baseS = 0): number {
  while (start < end && (b[start] === 32 || b[start] === 9)) start++;
  while (end > start && (b[end - 1] === 32 || b[end - 1] === 9)) end--;
  const n = end - start;
  if (n < 19) return NaN;
  const o = start;
  if (b[o + 4] !== 45 || b[o + 7] !== 45 || b[o + 13] !== 58 || b[o + 16] !== 58) return NaN;
  const sep = b[o + 10];
  if (sep !== 32 && sep !== 84 /* T */) return NaN;
  const y = digits(b, o, 4),
    mo = digits(b, o + 5, 2),
    d = digits(b, o + 8, 2);
  const h = digits(b, o + 11, 2),
    mi = digits(b, o + 14, 2),
    se = digits(b, o + 17, 2);
  if (!(mo >= 1 && mo <= 12 && d >= 1 && d <= DAYS_IN_MONTH[mo - 1]! && h <= 23 && mi <= 59 && se <= 60)) return NaN;
  if (mo === 2 && d === 29 && !(y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0))) return NaN;
  let i = o + 19;
  let fracUs = 0;
  if (i < end && b[i] === 46 /* . */) {
    i++;
    const first = i;
    let fi = 0;
    while (i < end) {
      const dd = b[i]! - 48;
      if (dd < 0 || dd > 9) break;
      if (i - first < 15) fi = fi * 10 + dd;
      i++;
    }
    const nd = Math.min(i - first, 15);
    fracUs = nd <= 6 ? fi * POW10[6 - nd]! : fi / POW10[nd - 6]!;
    if (i === first) return NaN;
  }
  let offsetMin = 0;
  if (i < end) {
    const c = b[i];
    const left = end - i;
    if (c === 90 /* Z */ && left === 1) {
      i++;
    } else if (c === 43 || c === 45) {
      const sign = c === 43 ? 1 : -1;
      let oh: number, om: number;
      if (left === 6 && b[i + 3] === 58) {
        oh = digits(b, i + 1, 2);
        om = digits(b, i + 4, 2);
      } else if (left === 5) {
        oh = digits(b, i + 1, 2);
        om = digits(b, i + 3, 2);
      } else if (left === 3) {
        oh = digits(b, i + 1, 2);
        om = 0;
      } else return NaN;
      if (!(oh <= 23 && om <= 59)) return NaN;
      offsetMin = sign * (oh * 60 + om);
    } else return NaN;
  }
  const days = daysFromCivil(y, mo, d);
  const secs = days * 86400 + h * 3600 + mi * 60 + se - offsetMin * 60;
  return (secs - baseS) * 1e6 + fracUs;
}

function pad(v: number, w: number): string {
  return String(v).padStart(w, '0');
}

/** `YYYY-MM-DD HH:MM:SS.ffffff+00:00` (2024 style, microseconds) for integer epoch microseconds. */
export function formatAzureTimestampUs(us: number): string {
  const totalS = Math.floor(us / 1e6);
  const frac = us - totalS * 1e6;
  const days = Math.floor(totalS / 86400);
  let rem = totalS - days * 86400;
  const [y, m, d] = civilFromDays(days);
  const h = Math.floor(rem / 3600);
  rem -= h * 3600;
  const mi = Math.floor(rem / 60);
  const se = rem - mi * 60;
  return `${pad(y, 4)}-${pad(m, 2)}-${pad(d, 2)} ${pad(h, 2)}:${pad(mi, 2)}:${pad(se, 2)}.${pad(Math.round(frac), 6)}+00:00`;
}
