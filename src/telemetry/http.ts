/** GET a Prometheus endpoint with a deadline (undici); resolves the body text or rejects with a one-line reason. */

export async function fetchText(url: string, timeoutMs: number): Promise<string> {
  // Imported on first use: every command's start-up loads this module (through its flag definitions), and
  // undici's ~110 files cost ~0.1 s of CPU and ~20 MB there; only runs that scrape need it.
  const { request } = await import('undici');
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  try {
    const res = await request(url, {
      method: 'GET',
      signal: ac.signal,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      headers: { accept: 'text/plain;version=0.0.4, */*' },
    });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}: ${text.slice(0, 120).replace(/\s+/g, ' ')}`);
    return text;
  } catch (e) {
    const err = e as Error & { code?: string; cause?: Error };
    const why = ac.signal.aborted ? `no answer within ${timeoutMs} ms` : err.code ? `${err.code}: ${err.message}` : err.message;
    throw new Error(why);
  } finally {
    clearTimeout(timer);
  }
}
