import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatAzureTimestampUs, parseAzureTimestampUs } from '../../src/trace/index.js';
import { civilFromDays, daysFromCivil } from '../../src/trace/timestamp.js';

const epochUs = (iso: string): number => Date.parse(iso) * 1000;

test('2023 form: 7 fractional digits keep sub-millisecond precision', () => {
  const a = parseAzureTimestampUs('2023-11-16 18:17:03.9799600');
  assert.equal(a, epochUs('2023-11-16T18:17:03.979Z') + 960);
  const b = parseAzureTimestampUs('2023-11-16 18:17:04.0319600');
  assert.equal(b - a, 52000);
  // 100-ns digit kept as a fraction of a microsecond
  assert.ok(Math.abs(parseAzureTimestampUs('2023-11-16 18:17:03.9799605') - a - 0.5) < 0.3);
});

test('2024 form: +00:00 with varying fractional precision', () => {
  const base = epochUs('2024-05-10T00:00:00Z');
  assert.equal(parseAzureTimestampUs('2024-05-10 00:00:00+00:00'), base);
  assert.equal(parseAzureTimestampUs('2024-05-10 00:00:00.5+00:00'), base + 500000);
  assert.equal(parseAzureTimestampUs('2024-05-10 00:00:00.012345+00:00'), base + 12345);
  assert.equal(parseAzureTimestampUs('2024-05-10 00:00:00.0123+00:00'), base + 12300);
  assert.equal(parseAzureTimestampUs('2024-05-10T00:00:00.25Z'), base + 250000);
});

test('zone offsets are applied', () => {
  const base = epochUs('2024-05-10T00:00:00Z');
  assert.equal(parseAzureTimestampUs('2024-05-10 02:00:00+02:00'), base);
  assert.equal(parseAzureTimestampUs('2024-05-09 22:30:00-0130'), base);
});

test('garbage is NaN, not a wrong time', () => {
  for (const s of [
    '',
    'abc',
    '2023-13-01 00:00:00',
    '2023-02-30 00:00:00',
    '2023-11-16 25:00:00',
    '2023-11-16 18:17:03.',
    '2023-11-16 18:17:03+0',
    '2023-11-16 18:17:03.12x',
    '2023/11/16 18:17:03',
  ])
    assert.ok(Number.isNaN(parseAzureTimestampUs(s)), s);
});

test('format → parse round trip, and civil day conversions agree with Date', () => {
  for (const iso of ['1970-01-01T00:00:00Z', '2000-02-29T12:34:56Z', '2024-12-31T23:59:59Z']) {
    const days = Math.floor(Date.parse(iso) / 86400000);
    const d = new Date(iso);
    assert.equal(daysFromCivil(d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate()), days);
    assert.deepEqual(civilFromDays(days), [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate()]);
  }
  const us = epochUs('2024-01-01T00:00:00Z') + 3723_000_001;
  const s = formatAzureTimestampUs(us);
  assert.equal(s, '2024-01-01 01:02:03.000001+00:00');
  assert.equal(parseAzureTimestampUs(s), us);
});
