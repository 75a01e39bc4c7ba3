import { metrics, trace, type Meter, type Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { AlwaysOffSampler, BatchSpanProcessor, NoopSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';

export interface TelemetryOptions {
  serviceName: string;
  serviceVersion?: string;
  /** OTLP/HTTP traces endpoint (e.g. http://collector:4318/v1/traces); no export when absent. */
  otlpTracesUrl?: string;
  /** Extra processors, e.g. an in-memory exporter in tests. */
  spanProcessors?: SpanProcessor[];
}

export interface Telemetry {
  readonly tracer: Tracer;
  readonly meter: Meter;
  /** Current metrics in Prometheus text exposition format. */
  prometheusText(): Promise<string>;
  shutdown(): Promise<void>;
}

/**
 * Starts the OpenTelemetry SDK once per process: W3C trace context propagation (the bus carries it
 * across Kafka hops), traces to OTLP when configured, metrics pulled by `/metrics`.
 */
export function startTelemetry(options: TelemetryOptions): Telemetry {
  const prometheus = new PrometheusExporter({ preventServerStart: true });
  const spanProcessors = [...(options.spanProcessors ?? [])];
  if (options.otlpTracesUrl) {
    spanProcessors.push(new BatchSpanProcessor(new OTLPTraceExporter({ url: options.otlpTracesUrl })));
  }
  // With nothing to export, spans are not recorded (AlwaysOff), but they still get ids and the context still
  // flows through async calls and Kafka headers: one trace id across every hop, in every log line. The SDK
  // registers its provider, context manager and propagator only when it has a processor, hence the no-op one.
  const exporting = spanProcessors.length > 0;
  if (!exporting) spanProcessors.push(new NoopSpanProcessor());
  const sdk = new NodeSDK({
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: options.serviceName,
      [ATTR_SERVICE_VERSION]: options.serviceVersion ?? '0.0.0',
    }),
    // Explicit (possibly empty) processors: otherwise the SDK falls back to OTEL_* environment
    // defaults and tries to ship spans to a collector nobody configured.
    spanProcessors,
    metricReader: prometheus,
    textMapPropagator: new W3CTraceContextPropagator(),
    ...(exporting ? {} : { sampler: new AlwaysOffSampler() }),
    autoDetectResources: false,
    instrumentations: [],
  });
  sdk.start();
  const serializer = new PrometheusSerializer();
  let stopped = false;
  return {
    tracer: trace.getTracer(options.serviceName),
    meter: metrics.getMeter(options.serviceName),
    async prometheusText() {
      const { resourceMetrics } = await prometheus.collect();
      return serializer.serialize(resourceMetrics);
    },
    async shutdown() {
      if (stopped) return;
      stopped = true;
      await sdk.shutdown();
    },
  };
}
