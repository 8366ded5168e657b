import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escapeXml } from '../../src/metrics/gate.js';
import { parseXml } from './xml.js';

test('the test XML parser accepts well-formed XML and rejects malformed XML', () => {
  const doc = parseXml('<?xml version="1.0"?>\n<a x="1 &lt; 2"><b/><c y=\'&amp;\'>t&#65;</c></a>\n');
  assert.equal(doc.attrs['x'], '1 < 2');
  assert.equal(doc.children.length, 2);
  assert.equal(doc.children[1]!.text, 'tA');
  for (const bad of ['<a><b></a>', '<a x=1/>', '<a x="<"/>', '<a>&</a>', '<a/><b/>', '<a', '<a x="1" x="2"/>', '<a>&bogus;</a>']) {
    assert.throws(() => parseXml(bad), Error, bad);
  }
});

test('escapeXml makes rule text safe in attributes and text', () => {
  const rule = `ttft.p99 <= 2s & "x" 'y'`;
  const el = parseXml(`<t name="${escapeXml(rule)}">${escapeXml(rule)}</t>`);
  assert.equal(el.attrs['name'], rule);
  assert.equal(el.text, rule);
});
