import { type Contracts, isDlqTopic } from '@dmarc/contracts';
import { type Span, SpanStatusCode, context, trace } from '@opentelemetry/api';
import { backoffDelay, sleep } from './backoff';
import type { Delivered } from './bus';
import type { ResolvedConsumeOptions } from './consume-options';
import { codeOf, DeadLetterError, HandlerFailedError, isRetriable, messageOf, MissingTenantError, TenantMismatchError } from './errors';
import { BUS_HEADERS, byteHeaders, stringHeaders } from './headers';
import type { BusLogger } from './logger';
import { deadLetterRecord, type InboundRecord, type WireRecord } from './outgoing';
import { endSpanWithError, extractTraceContext, startConsumerSpan } from './tracing';

/** What the driver does with the message next. */
export type Outcome =
  /** Handled, or dead-lettered: commit it and go on. */
  | { kind: 'done'; deadLettered: boolean }
  /** Still failing with a retriable error after the tries in place: keep it uncommitted, pause, try again later. */
  | { kind: 'retry-later'; attempts: number; error: unknown }
  /** The consumer is closing while waiting to retry: leave it uncommitted for the next member. */
  | { kind: 'stopped' };

export interface DeliveryProcessorDeps<T extends string> {
  contracts: Contracts;
  options: ResolvedConsumeOptions<T>;
  /** `kafka` or `in-process`, for span attributes. */
  system: string;
  logger: BusLogger;
  /** Publishes already-encoded records: how dead letters leave. */
  sendRaw(topic: string, records: WireRecord[]): Promise<void>;
  /** Aborted when the consumer closes: cuts retry waits short, never a running handler. */
  signal: AbortSignal;
  now?: () => number;
}

/**
 * Everything that happens to one message between the driver reading it and committing it, the
 * same for Kafka and in-process: trace context, tenant, decoding, the handler with retries in
 * place, and the dead letter. Decisions are made by the error's `retriable` flag alone.
 */
export class DeliveryProcessor<T extends string> {
  private readonly now: () => number;

  constructor(private readonly deps: DeliveryProcessorDeps<T>) {
    this.now = deps.now ?? Date.now;
  }

  /** Never throws: a failure of the bus itself is reported as retry-later, so nothing is lost. */
  async process(record: InboundRecord, priorAttempts: number, heartbeat?: () => Promise<void>): Promise<Outcome> {
    const headers = stringHeaders(record.headers);
    const key = record.key === null ? null : record.key.toString('utf8');
    const parent = extractTraceContext(headers);
    const span = startConsumerSpan(
      { system: this.deps.system, topic: record.topic, groupId: this.deps.options.groupId, partition: record.partition, offset: record.offset, key },
      parent,
    );
    return context.with(trace.setSpan(parent, span), async (): Promise<Outcome> => {
      try {
        const outcome = await this.run(record, headers, key, priorAttempts, span, heartbeat);
        if (outcome.kind === 'retry-later') endSpanWithError(span, outcome.error);
        else span.end();
        return outcome;
      } catch (error) {
        this.deps.logger.error(
          { topic: record.topic, partition: record.partition, offset: record.offset, error: messageOf(error) },
          'bus failed to process a message; it stays uncommitted',
        );
        endSpanWithError(span, error);
        return { kind: 'retry-later', attempts: priorAttempts, error };
      }
    });
  }

  private async run(
    record: InboundRecord,
    headers: Record<string, string>,
    key: string | null,
    priorAttempts: number,
    span: Span,
    heartbeat?: () => Promise<void>,
  ): Promise<Outcome> {
    const { contracts, options } = this.deps;
    const tenantId = headers[BUS_HEADERS.tenantId] || undefined;
    // Dead-letter topics are exempt: they are where messages without a tenant end up.
    if (tenantId === undefined && !isDlqTopic(record.topic)) {
      return this.deadLetter(record, new MissingTenantError(record.topic), 0, undefined, span);
    }
    let decoded;
    try {
      decoded = contracts.decode(record.topic, record.value, record.headers);
    } catch (error) {
      return this.deadLetter(record, error, 0, tenantId, span);
    }
    const valueTenant = (decoded.value as { tenantId?: unknown } | null)?.tenantId;
    if (tenantId !== undefined && typeof valueTenant === 'string' && valueTenant !== tenantId) {
      return this.deadLetter(record, new TenantMismatchError(record.topic, tenantId, valueTenant), 0, tenantId, span);
    }
    const message: Delivered<string> = {
      topic: record.topic,
      partition: record.partition,
      offset: record.offset,
      key,
      value: decoded.value,
      tenantId: tenantId ?? '',
      headers,
      raw: record.value as Buffer,
      attempt: priorAttempts,
      writer: decoded.writer,
    };
    span.setAttribute('dmarc.tenant_id', message.tenantId);

    for (let inPlace = 1; ; inPlace++) {
      const attempt = priorAttempts + inPlace;
      message.attempt = attempt;
      try {
        await options.handler(message as never);
        return { kind: 'done', deadLettered: false };
      } catch (thrown) {
        const error = typeof thrown === 'object' && thrown !== null ? thrown : new HandlerFailedError(thrown);
        const retriable = isRetriable(error);
        span.addEvent('handler failed', { attempt, 'error.code': codeOf(error), 'error.retriable': retriable });
        if (!retriable || attempt >= options.maxAttempts) return this.deadLetter(record, error, attempt, tenantId, span);
        if (inPlace >= options.attemptsInPlace) return { kind: 'retry-later', attempts: attempt, error };
        if (!(await sleep(backoffDelay(inPlace, options.retryBackoff), this.deps.signal))) return { kind: 'stopped' };
        // Best effort: a rebalance reported here is handled by the driver after this message.
        await heartbeat?.().catch(() => undefined);
      }
    }
  }

  private async deadLetter(record: InboundRecord, error: unknown, attempts: number, tenantId: string | undefined, span: Span): Promise<Outcome> {
    const { topic, record: out } = deadLetterRecord(
      this.deps.contracts,
      record,
      { error, attempts, service: this.deps.options.service, tenantId, now: this.now() },
      byteHeaders(record.headers),
    );
    try {
      await this.deps.sendRaw(topic, [out]);
    } catch (cause) {
      return { kind: 'retry-later', attempts, error: new DeadLetterError(topic, { cause }) };
    }
    const code = codeOf(error);
    span.setAttribute('dmarc.dead_letter.code', code);
    if (error instanceof Error) span.recordException(error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: `dead-lettered: ${code}` });
    this.deps.logger.warn(
      { topic: record.topic, partition: record.partition, offset: record.offset, dlq: topic, code, attempts },
      `dead-lettered ${record.topic}[${record.partition}]@${record.offset} to ${topic}: ${messageOf(error)}`,
    );
    return { kind: 'done', deadLettered: true };
  }
}
