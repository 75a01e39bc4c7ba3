import { HttpError, runService, retryWithBackoff, type ReadinessReport, type RunningService } from './index';

describe('runService', () => {
  let svc: RunningService | undefined;
  afterEach(async () => {
    await svc?.stop();
    svc = undefined;
  });

  it('serves liveness at once and readiness only when started and every check passes', async () => {
    let release!: () => void;
    let dbUp = true;
    const stops: string[] = [];
    svc = await runService(
      {
        name: 'probe',
        setup(ctx) {
          ctx.readiness.add('db', () => {
            if (!dbUp) throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
          });
          ctx.http.get('/boom', async () => {
            throw new HttpError(409, 'CONFLICT', 'already there', 'name');
          });
          ctx.onShutdown(() => void stops.push('first'));
          ctx.onShutdown(() => void stops.push('second'));
        },
        run: () => new Promise<void>((r) => (release = r)),
      },
      { port: 0, logLevel: 'silent' },
    );
    const base = `http://127.0.0.1:${svc.port}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const starting = await fetch(`${base}/readyz`);
    expect(starting.status).toBe(503);
    expect(((await starting.json()) as ReadinessReport).checks.startup.ok).toBe(false);

    release();
    await svc.started;
    expect((await fetch(`${base}/readyz`)).status).toBe(200);

    dbUp = false;
    const down = await fetch(`${base}/readyz`);
    expect(down.status).toBe(503);
    expect(((await down.json()) as ReadinessReport).checks.db.error).toContain('ECONNREFUSED');

    const boom = await fetch(`${base}/boom`);
    expect(boom.status).toBe(409);
    expect(await boom.json()).toEqual({ error: 'CONFLICT', message: 'already there', field: 'name' });
    const missing = await fetch(`${base}/nope`);
    expect(await missing.json()).toMatchObject({ error: 'NOT_FOUND' });

    const metrics = await fetch(`${base}/metrics`);
    expect(metrics.headers.get('content-type')).toContain('text/plain');
    // Every request timed by route and status: the 409 above, on its route pattern.
    const text = await metrics.text();
    expect(text).toMatch(/dmarc_http_server_duration(_milliseconds)?_count\{[^}]*route="\/boom"[^}]*\} 1/);
    expect(text).toMatch(/dmarc_http_server_duration(_milliseconds)?_count\{[^}]*status="409"[^}]*\} 1/);

    await svc.stop();
    svc = undefined;
    expect(stops).toEqual(['second', 'first']);
  });
});

describe('retryWithBackoff', () => {
  it('logs one line per failed attempt and returns the first success', async () => {
    const lines: string[] = [];
    const delays: number[] = [];
    const result = await retryWithBackoff(
      async (attempt) => {
        if (attempt < 3) throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9092\n    at stack'), { code: 'ECONNREFUSED' });
        return 'connected';
      },
      {
        what: 'kafka',
        initialDelayMs: 100,
        log: { warn: (_o, msg) => lines.push(msg) },
        sleep: async (ms) => void delays.push(ms),
      },
    );
    expect(result).toBe('connected');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^kafka unavailable \(attempt 1\): connect ECONNREFUSED 127\.0\.0\.1:9092; retrying in \d+ ms$/);
    expect(lines.join('')).not.toContain('at stack');
    expect(delays[1]).toBeGreaterThanOrEqual(100);
    expect(delays[1]).toBeLessThanOrEqual(200);
  });

  it('stops when aborted and after maxAttempts', async () => {
    const abort = new AbortController();
    abort.abort();
    await expect(retryWithBackoff(async () => 1, { what: 'x', signal: abort.signal })).rejects.toMatchObject({ code: 'RUNTIME_RETRY_ABORTED' });
    await expect(
      retryWithBackoff(async () => Promise.reject(new Error('nope')), { what: 'x', maxAttempts: 2, sleep: async () => undefined }),
    ).rejects.toThrow('nope');
  });
});
