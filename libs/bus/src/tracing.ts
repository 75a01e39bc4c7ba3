import { type Context, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, context, propagation, trace } from '@opentelemetry/api';
import { messageOf } from './errors';

// Only @opentelemetry/api here: the process that wires the bus decides on the SDK (or none, and
// every call below is a no-op). The tracer is looked up per call so a provider registered after
// this module loaded is still used.
const TRACER_NAME = '@dmarc/bus';

export interface MessagingSpanInfo {
  /** `kafka` or `in-process`. */
  system: string;
  topic: string;
}

/**
 * A PRODUCER span for one publish call, child of whatever span is active (a consumer's, in a handler). A batch
 * handler's publish carries messages that each continue their own input's trace (`messageTraces`): the span
 * links to each of them, so every one of those traces shows where its message was sent.
 */
export function startProducerSpan(info: MessagingSpanInfo, messageCount: number, messageTraces: readonly Context[] = []): Span {
  const links = messageTraces.flatMap((ctx) => {
    const linked = trace.getSpanContext(ctx);
    return linked ? [{ context: linked }] : [];
  });
  return trace.getTracer(TRACER_NAME).startSpan(`send ${info.topic}`, {
    kind: SpanKind.PRODUCER,
    ...(links.length > 0 ? { links } : {}),
    attributes: {
      'messaging.system': info.system,
      'messaging.destination.name': info.topic,
      'messaging.operation.type': 'send',
      'messaging.operation.name': 'send',
      'messaging.batch.message_count': messageCount,
    },
  });
}

/** Writes the span's context as `traceparent` / `tracestate` into `headers`. */
export function injectTraceContext(span: Span | undefined, headers: Record<string, string>): void {
  const ctx = span ? trace.setSpan(context.active(), span) : context.active();
  propagation.inject(ctx, headers);
}

/** Writes a delivered message's trace context (`Delivered.trace`) into `headers`. */
export function injectMessageTrace(ctx: Context, headers: Record<string, string>): void {
  propagation.inject(ctx, headers);
}

/** The producer's context, from a message's headers: the parent of its CONSUMER span. */
export function extractTraceContext(headers: Record<string, string>): Context {
  return propagation.extract(ROOT_CONTEXT, headers);
}

export interface ConsumerSpanInfo extends MessagingSpanInfo {
  groupId: string;
  partition: number;
  offset: string;
  key: string | null;
}

export function startConsumerSpan(info: ConsumerSpanInfo, parent: Context): Span {
  return trace.getTracer(TRACER_NAME).startSpan(
    `process ${info.topic}`,
    {
      kind: SpanKind.CONSUMER,
      attributes: {
        'messaging.system': info.system,
        'messaging.destination.name': info.topic,
        'messaging.operation.type': 'process',
        'messaging.operation.name': 'process',
        'messaging.consumer.group.name': info.groupId,
        'messaging.destination.partition.id': String(info.partition),
        'messaging.kafka.offset': Number(info.offset),
        ...(info.key === null ? {} : { 'messaging.kafka.message.key': info.key }),
      },
    },
    parent,
  );
}

export function endSpanWithError(span: Span, error: unknown): void {
  if (error instanceof Error) span.recordException(error);
  span.setStatus({ code: SpanStatusCode.ERROR, message: messageOf(error) });
  span.end();
}
