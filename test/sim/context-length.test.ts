/**
 * Regression: the simulator used to run requests longer than the model's context, which the live
 * reference backend refuses with HTTP 400. Now each such request is an error row like a live replay's
 * (`SB_HTTP`, HTTP 400, the server's message), and never reaches the engine; the others run as before.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { parseGeneration, HttpError } from '../../src/server/index.js';
import { simulate } from '../../src/sim/index.js';
import type { RequestRow } from '../../src/store/index.js';
import type { RequestSpec } from '../../src/trace/index.js';
import { defineDeployment, loadCatalog, loadEngineData } from '../../src/config/index.js';

const MODEL = 'llama2-70b';

test('sim refuses requests past the context as the live server does (HTTP 400, same message), per request', async () => {
  const ctx = loadCatalog().model(MODEL).maxContextTokens;
  const dep = defineDeployment({ kind: 'monolithic', model: MODEL, pools: { mixed: { machine: 'dgx-h100', count: 1 } } });
  const specs: RequestSpec[] = [
    { id: 'fits', arrival: 0, promptTokens: 100, outputTokens: 10 },
    { id: 'prompt-too-long', arrival: 0.1, promptTokens: ctx, outputTokens: 10 },
    { id: 'output-too-long', arrival: 0.2, promptTokens: ctx - 100, outputTokens: 200 },
    { id: 'exactly-fits', arrival: 0.3, promptTokens: ctx - 10, outputTokens: 10 },
  ];
  const rows: RequestRow[] = [];
  const engineSaw: string[] = [];
  const r = await simulate({
    data: loadEngineData(),
    deployment: dep,
    requests: specs,
    sink: { addRequest: (row) => rows.push(row) },
    sampleIntervalS: 0,
    events: { arrival: (id) => engineSaw.push(id) },
  });
  const by = new Map(rows.map((x) => [x.traceId, x]));
  assert.equal(by.get('fits')!.status, 'ok');
  assert.equal(by.get('exactly-fits')!.status, 'ok');
  for (const id of ['prompt-too-long', 'output-too-long']) {
    const row = by.get(id)!;
    const spec = specs.find((s) => s.id === id)!;
    assert.equal(row.status, 'error', id);
    assert.equal(row.errorCode, 'SB_HTTP', id);
    assert.equal(row.httpStatus, 400, id);
    assert.equal(row.tokensReceived, 0, id);
    // The message the live server sends for the request a replay would make of this spec.
    let live: HttpError | undefined;
    try {
      parseGeneration(
        'completions',
        { prompt: Array.from({ length: spec.promptTokens }, () => 1), max_tokens: spec.outputTokens, ignore_eos: true },
        { name: MODEL, maxContextTokens: ctx },
      );
    } catch (e) {
      live = e as HttpError;
    }
    assert.ok(live instanceof HttpError && live.status === 400 && live.code === 'context_length_exceeded', id);
    assert.equal(row.error, `HTTP 400: ${live.message}`, id);
  }
  assert.deepEqual(engineSaw, ['fits', 'exactly-fits'], 'the refused requests never reach the engine');
  assert.equal(r.submitted, 4);
  assert.equal(r.failed, 2);
  assert.deepEqual(Object.values(r.failures), [2]);
});
