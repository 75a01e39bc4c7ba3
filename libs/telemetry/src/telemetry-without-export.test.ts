import { context, propagation, trace } from '@opentelemetry/api';
import { startTelemetry, type Telemetry } from './index';

// A service started without an OTLP endpoint: nothing is recorded or exported, but trace context must
// still flow, so one trace id follows a report through every hop and every log line.
describe('telemetry without an exporter', () => {
  let telemetry: Telemetry;
  beforeAll(() => {
    telemetry = startTelemetry({ serviceName: 'telemetry-quiet' });
  });
  afterAll(() => telemetry.shutdown());

  it('continues an incoming trace through async work into outgoing headers, recording nothing', async () => {
    const incoming = { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' };
    const parent = propagation.extract(context.active(), incoming);
    const span = telemetry.tracer.startSpan('process', {}, parent);
    const carrier: Record<string, string> = {};
    await context.with(trace.setSpan(parent, span), async () => {
      await new Promise((resolve) => setImmediate(resolve));
      propagation.inject(context.active(), carrier);
    });
    span.end();
    expect(span.isRecording()).toBe(false);
    expect(carrier.traceparent).toMatch(/^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-00$/);
    expect(carrier.traceparent).not.toContain('b7ad6b7169203331');
  });

  it('starts a new trace id for work with no parent', () => {
    const carrier: Record<string, string> = {};
    telemetry.tracer.startActiveSpan('root', (span) => {
      propagation.inject(context.active(), carrier);
      span.end();
    });
    expect(carrier.traceparent).toMatch(/^00-(?!0{32})[0-9a-f]{32}-[0-9a-f]{16}-00$/);
  });
});
