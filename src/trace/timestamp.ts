/**
 * Azure trace timestamps → epoch microseconds, parsed by hand: `Date` keeps only milliseconds, and the
 * traces carry 100-ns (2023: `2023-11-16 18:17:03.9799600`) or varying (2024: `2024-05-10 00:00:00.012345+00:00`)
 * fractional precision. Accepted: `YYYY-MM-DD[ T]HH:MM:SS[.fraction][Z|±HH:MM|±HHMM]`; no zone means UTC.
 * The result keeps sub-microsecond digits as a fraction (a double holds epoch µs to about 0.25 µs).
 */

const C0 = 48; // '0'

function digits(s: string, from: number, n: number): number {
  let v = 0;
  for (let i = from; i < from + n; i++) {
    const d = s.charCodeAt(i) - C0;
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

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * Epoch microseconds of an Azure-trace timestamp, or NaN when the text is not one. With `baseS` (epoch
 * seconds), microseconds since that base instead: small numbers that keep the 100-ns digit exactly.
 */
export function parseAzureTimestampUs(s: string, baseS = 0): number {
  const n = s.length;
  if (n < 19) return NaN;
  if (s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58) return NaN;
  const sep = s.charCodeAt(10);
  if (sep !== 32 && sep !== 84 /* T */) return NaN;
  const y = digits(s, 0, 4), mo = digits(s, 5, 2), d = digits(s, 8, 2);
  const h = digits(s, 11, 2), mi = digits(s, 14, 2), se = digits(s, 17, 2);
  if (!(mo >= 1 && mo <= 12 && d >= 1 && d <= DAYS_IN_MONTH[mo - 1]! && h <= 23 && mi <= 59 && se <= 60)) return NaN;
  let i = 19;
  let fracUs = 0;
  if (i < n && s.charCodeAt(i) === 46 /* . */) {
    i++;
    let scale = 100000; // first fractional digit = 1e5 µs
    const start = i;
    while (i < n) {
      const dd = s.charCodeAt(i) - C0;
      if (dd < 0 || dd > 9) break;
      fracUs += dd * scale;
      scale /= 10;
      i++;
    }
    if (i === start) return NaN;
  }
  let offsetMin = 0;
  if (i < n) {
    const c = s.charCodeAt(i);
    if (c === 90 /* Z */ && i + 1 === n) {
      i++;
    } else if (c === 43 || c === 45) {
      const sign = c === 43 ? 1 : -1;
      let oh: number, om: number;
      if (n - i === 6 && s.charCodeAt(i + 3) === 58) {
        oh = digits(s, i + 1, 2);
        om = digits(s, i + 4, 2);
      } else if (n - i === 5) {
        oh = digits(s, i + 1, 2);
        om = digits(s, i + 3, 2);
      } else if (n - i === 3) {
        oh = digits(s, i + 1, 2);
        om = 0;
      } else return NaN;
      if (!(oh <= 23 && om <= 59)) return NaN;
      offsetMin = sign * (oh * 60 + om);
      i = n;
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
