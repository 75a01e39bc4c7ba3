import { context, propagation, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { FastifyInstance, FastifyRequest } from 'fastify';

const TRACER_NAME = '@dmarc/service-runtime';
const spans = new WeakMap<FastifyRequest, Span>();

/**
 * A SERVER span per HTTP request, child of the caller's `traceparent` when it sends one, and the route's
 * handler run inside it: what the handler publishes to Kafka carries this trace on, so one trace goes from
 * `POST /v1/reports` to the last consumer. Probes and metrics scrapes are left out.
 */
export function traceHttpRequests(http: FastifyInstance, skip: ReadonlySet<string>): void {
  http.addHook('onRequest', (request, _reply, done) => {
    const route = request.routeOptions.url;
    if (route === undefined || skip.has(route)) return done();
    const parent = propagation.extract(ROOT_CONTEXT, request.headers, {
      get: (carrier, key) => {
        const value = carrier[key];
        return Array.isArray(value) ? value[0] : value;
      },
      keys: (carrier) => Object.keys(carrier),
    });
    const span = trace.getTracer(TRACER_NAME).startSpan(
      `${request.method} ${route}`,
      { kind: SpanKind.SERVER, attributes: { 'http.request.method': request.method, 'http.route': route } },
      parent,
    );
    spans.set(request, span);
    done();
  });
  // The handler is called from the last preHandler hook's `done`: run it in the span's context (the body is
  // read by then, so nothing after this point leaves the context through a stream event).
  http.addHook('preHandler', (request, _reply, done) => {
    const span = spans.get(request);
    if (!span) return done();
    context.with(trace.setSpan(context.active(), span), done);
  });
  http.addHook('onResponse', (request, reply, done) => {
    const span = spans.get(request);
    if (span) {
      span.setAttribute('http.response.status_code', reply.statusCode);
      if (reply.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
      spans.delete(request);
    }
    done();
  });
}
