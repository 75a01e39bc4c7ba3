import { type Contracts, isDlqTopic } from '@dmarc/contracts';
import { type Context, ROOT_CONTEXT, type Span, SpanStatusCode, context, trace } from '@opentelemetry/api';
import { backoffDelay, sleep } from './backoff';
import type { Delivered } from './bus';
import type { ResolvedConsumeOptions } from './consume-options';
import { codeOf, DeadLetterError, HandlerFailedError, isRetriable, messageOf, MissingTenantError, TenantMismatchError } from './errors';
import type { BusStats } from './bus-stats';
import { BUS_HEADERS, byteHeaders, stringHeaders } from './headers';
import type { BusLogger } from './logger';
import { deadLetterRecord, type InboundRecord, type WireRecord } from './outgoing';
import { endSpanWithError, extractTraceContext, startConsumerSpan } from './tracing';

/** What the driver does with the message next. */
export type Outcome =
  /** Handled, or dead-lettered: commit it and go on. */
  | { kind: 'done'; deadLettered: boolean; code?: string }
  /** Still failing with a retriable error after the tries in place: keep it uncommitted, pause, try again later. */
  | { kind: 'retry-later'; attempts: number; error: unknown }
  /** The consumer is closing while waiting to retry: leave it uncommitted for the next member. */
  | { kind: 'stopped' };

/** A message read, its CONSUMER span started. */
interface Begun {
  headers: Record<string, string>;
  key: string | null;
  span: Span;
  /** The span's context: where the handler runs, and `Delivered.trace`. */
  ctx: Context;
}

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
  /** Counts handled and dead-lettered messages. */
  stats?: BusStats;
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
    const begun = this.begin(record);
    const outcome = await this.settle(record, begun, priorAttempts, async () => {
      const message = await this.open(record, begun, priorAttempts);
      return 'kind' in message ? message : this.runHandler(record, message, priorAttempts, begun.span, heartbeat);
    });
    this.count(record, outcome);
    return outcome;
  }

  private count(record: InboundRecord, outcome: Outcome): void {
    if (outcome.kind !== 'done' || !this.deps.stats) return;
    this.deps.stats.recordFinished(record.topic, this.deps.options.groupId, outcome.deadLettered ? (outcome.code ?? 'UNKNOWN') : undefined);
  }

  /**
   * Several messages of one partition, in order: each decoded (bad ones dead-lettered), then the batch
   * handler on every first delivery among them, then the per-message handler, one by one, on what the batch
   * left, on retries of earlier failures, and on everything when the batch handler threw. One outcome per
   * record, in order; after a message that is not done, the ones left for the per-message handler are
   * not started (`stopped`), so the driver commits up to it and tries it again. Never throws.
   */
  async processBatch(records: readonly InboundRecord[], priorAttempts: (record: InboundRecord) => number, heartbeat?: () => Promise<void>): Promise<Outcome[]> {
    const batch = this.deps.options.batch;
    if (!batch) throw new Error('processBatch needs the batch option');
    const outcomes: Array<Outcome | undefined> = [];
    const opened: Array<{ begun: Begun; message: Delivered<string>; prior: number } | undefined> = [];
    for (const record of records) {
      const begun = this.begin(record);
      const prior = priorAttempts(record);
      let message: Delivered<string> | undefined;
      const early = await this.settle(record, begun, prior, async () => {
        const opening = await this.open(record, begun, prior);
        if ('kind' in opening) return opening;
        message = opening;
        return undefined;
      });
      outcomes.push(early);
      opened.push(message ? { begun, message, prior } : undefined);
    }

    const fresh = opened.filter((o): o is NonNullable<typeof o> => o !== undefined && o.prior === 0);
    let handled = new Set<Delivered<string>>();
    if (fresh.length > 0) {
      try {
        const left = await context.with(ROOT_CONTEXT, () => batch.handler(fresh.map((o) => o.message) as never));
        handled = new Set(fresh.map((o) => o.message));
        for (const m of left ?? []) handled.delete(m as Delivered<string>);
      } catch (error) {
        this.deps.logger.warn(
          { topic: records[0].topic, partition: records[0].partition, messages: fresh.length, error: messageOf(error) },
          `batch handler failed; its ${fresh.length} messages go one by one: ${messageOf(error)}`,
        );
      }
    }

    let blocked = false;
    for (let i = 0; i < records.length; i++) {
      const o = opened[i];
      if (!o) {
        blocked ||= outcomes[i]!.kind !== 'done';
        continue;
      }
      if (handled.has(o.message)) {
        o.begun.span.end();
        outcomes[i] = { kind: 'done', deadLettered: false };
        continue;
      }
      if (blocked) {
        o.begun.span.end();
        outcomes[i] = { kind: 'stopped' };
        continue;
      }
      const record = records[i];
      outcomes[i] = await this.settle(record, o.begun, o.prior, () => this.runHandler(record, o.message, o.prior, o.begun.span, heartbeat));
      blocked = outcomes[i]!.kind !== 'done';
    }
    records.forEach((record, i) => this.count(record, outcomes[i]!));
    return outcomes as Outcome[];
  }

  private begin(record: InboundRecord): Begun {
    const headers = stringHeaders(record.headers);
    const key = record.key === null ? null : record.key.toString('utf8');
    const parent = extractTraceContext(headers);
    const span = startConsumerSpan(
      { system: this.deps.system, topic: record.topic, groupId: this.deps.options.groupId, partition: record.partition, offset: record.offset, key },
      parent,
    );
    return { headers, key, span, ctx: trace.setSpan(parent, span) };
  }

  /**
   * Runs `work` in the message's span and ends the span with its outcome (left open when there is none
   * yet: the batch goes on with it). A throw is a failure of the bus itself: retry-later.
   */
  private settle<O extends Outcome | undefined>(record: InboundRecord, begun: Begun, priorAttempts: number, work: () => Promise<O>): Promise<O | Outcome> {
    const { span } = begun;
    return context.with(begun.ctx, async (): Promise<O | Outcome> => {
      try {
        const outcome = await work();
        if (outcome?.kind === 'retry-later') endSpanWithError(span, outcome.error);
        else if (outcome) span.end();
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

  /** The checks before any handler: a tenant, a value that decodes, the two tenants agreeing. Else the dead letter's outcome. */
  private async open(record: InboundRecord, begun: Begun, priorAttempts: number): Promise<Delivered<string> | Outcome> {
    const { contracts } = this.deps;
    const { headers, key, span } = begun;
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
    span.setAttribute('dmarc.tenant_id', tenantId ?? '');
    return {
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
      trace: begun.ctx,
    };
  }

  /** The per-message handler with its tries in place; a non-retriable failure, or the last try, dead-letters. */
  private async runHandler(record: InboundRecord, message: Delivered<string>, priorAttempts: number, span: Span, heartbeat?: () => Promise<void>): Promise<Outcome> {
    const { options } = this.deps;
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
        if (!retriable || attempt >= options.maxAttempts) return this.deadLetter(record, error, attempt, message.tenantId || undefined, span);
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
    return { kind: 'done', deadLettered: true, code };
  }
}
