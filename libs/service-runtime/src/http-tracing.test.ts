import { SpanKind, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { runService, type RunningService } from './index';

describe('HTTP request spans', () => {
  const exporter = new InMemorySpanExporter();
  let svc: RunningService;
  beforeAll(async () => {
    svc = await runService(
      {
        name: 'traced',
        setup(ctx) {
          ctx.http.post('/v1/things/:id', async (request) => {
            // The body is read and an await passed: the handler is still inside the request's span.
            await new Promise((r) => setTimeout(r, 5));
            return { traceId: trace.getActiveSpan()?.spanContext().traceId, body: request.body };
          });
        },
      },
      { port: 0, logLevel: 'silent', spanProcessors: [new SimpleSpanProcessor(exporter)] },
    );
  });
  afterAll(() => svc.stop());

  const base = () => `http://127.0.0.1:${svc.port}`;

  it("continues the caller's trace and runs the handler inside a SERVER span named by the route", async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const res = await fetch(`${base()}/v1/things/42`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
      body: JSON.stringify({ a: 1 }),
    });
    expect(await res.json()).toEqual({ traceId, body: { a: 1 } });
    const span = exporter.getFinishedSpans().find((s) => s.name === 'POST /v1/things/:id')!;
    expect(span.kind).toBe(SpanKind.SERVER);
    expect(span.spanContext().traceId).toBe(traceId);
    expect(span.parentSpanContext?.spanId).toBe('00f067aa0ba902b7');
    expect(span.attributes['http.response.status_code']).toBe(200);
  });

  it('starts a new trace without a traceparent, and leaves probes and scrapes untraced', async () => {
    exporter.reset();
    const res = await fetch(`${base()}/v1/things/7`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    const { traceId } = (await res.json()) as { traceId: string };
    expect(traceId).toMatch(/^(?!0{32})[0-9a-f]{32}$/);
    await fetch(`${base()}/healthz`);
    await fetch(`${base()}/readyz`);
    await fetch(`${base()}/metrics`);
    expect(exporter.getFinishedSpans().map((s) => s.name)).toEqual(['POST /v1/things/:id']);
  });
});
