import { Writable } from 'node:stream';
import { context, propagation, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { createLogger, startTelemetry, type Telemetry } from './index';

describe('telemetry', () => {
  const exporter = new InMemorySpanExporter();
  let telemetry: Telemetry;

  beforeAll(() => {
    telemetry = startTelemetry({ serviceName: 'telemetry-test', spanProcessors: [new SimpleSpanProcessor(exporter)] });
  });
  afterAll(() => telemetry.shutdown());

  it('records spans and propagates W3C trace context', () => {
    const carrier: Record<string, string> = {};
    telemetry.tracer.startActiveSpan('outer', (span) => {
      propagation.inject(context.active(), carrier);
      span.end();
    });
    const [span] = exporter.getFinishedSpans();
    expect(span.name).toBe('outer');
    expect(carrier.traceparent).toBe(`00-${span.spanContext().traceId}-${span.spanContext().spanId}-01`);
  });

  it('exposes counters in Prometheus text format', async () => {
    const counter = telemetry.meter.createCounter('test_things_total', { description: 'things' });
    counter.add(3, { kind: 'a' });
    const text = await telemetry.prometheusText();
    expect(text).toContain('# TYPE test_things_total counter');
    expect(text).toMatch(/test_things_total\{kind="a"\} 3/);
  });

  it('stamps log lines with the active trace id', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const logger = createLogger({ service: 'telemetry-test', destination: sink });
    let traceId = '';
    telemetry.tracer.startActiveSpan('logged', (span) => {
      traceId = span.spanContext().traceId;
      logger.info({ n: 1 }, 'inside a span');
      span.end();
    });
    logger.info('outside');
    const [inside, outside] = lines.map((l) => JSON.parse(l));
    expect(inside).toMatchObject({ service: 'telemetry-test', level: 'info', msg: 'inside a span', trace_id: traceId });
    expect(trace.isSpanContextValid({ traceId, spanId: inside.span_id, traceFlags: 1 })).toBe(true);
    expect(outside.trace_id).toBeUndefined();
  });
});
