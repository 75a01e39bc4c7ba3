// dmarc.alerts is fed from the alerts table as an outbox (the pattern of @dmarc/tenant-admin's config-change
// relay): a row is marked published only after the broker took it, in the transaction that locked it. Rows are
// independent (no order to keep across domains), so instead of one relay at a time behind an advisory lock, any
// number of publishers work side by side, each taking the rows nobody else holds (FOR UPDATE SKIP LOCKED): the
// pass right after a commit and the periodic relay never send one row twice.
import type { MessageTrace, OutgoingMessage, Publisher } from '@dmarc/bus';
import { type AlertInput, TOPICS } from '@dmarc/contracts';
import type { Store } from '@dmarc/store';
import { defaultTextMapGetter, defaultTextMapSetter, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { ALERT_COLUMNS, type AlertRow, storedAlert, type StoredAlert, type TraceRef } from './alert-store';

export const ALERTS_TOPIC = TOPICS.alerts;

/** The dmarc.alerts message of a stored alert: keyed tenantId:domain, continuing the trace of what triggered it. */
export function alertMessage(alert: StoredAlert): OutgoingMessage<AlertInput> {
  const parent = alert.traceparent ? traceContextOf(alert.traceparent) : undefined;
  return {
    key: `${alert.tenantId}:${alert.domain}`,
    tenantId: alert.tenantId,
    ...(parent ? { trace: parent } : {}),
    value: {
      alertId: alert.id,
      tenantId: alert.tenantId,
      domain: alert.domain,
      rule: alert.rule,
      severity: alert.severity,
      title: alert.title,
      summary: alert.summary,
      evidence: alert.evidence,
      windowStart: alert.windowStart,
      windowEnd: alert.windowEnd,
      detectedAt: alert.detectedAt,
      traceId: alert.traceId,
    },
  };
}

export interface PublishOptions {
  /** Only these alerts (right after their commit); all unpublished ones when absent (the relay). */
  ids?: readonly string[];
  /** Rows per pass. Default 200. */
  limit?: number;
}

/**
 * Publishes unpublished alerts and marks them, one transaction per pass: rows another publisher holds are skipped,
 * a failed publish rolls back and leaves the rows for the next pass. Resolves with how many were sent.
 */
export function publishPending(db: Store, publisher: Publisher, options: PublishOptions = {}): Promise<number> {
  if (options.ids?.length === 0) return Promise.resolve(0);
  return db.transaction(async (tx) => {
    const { rows } = await tx.query<AlertRow>(
      `SELECT ${ALERT_COLUMNS} FROM alerts
        WHERE published_at IS NULL AND ($1::uuid[] IS NULL OR id = ANY($1::uuid[]))
        ORDER BY created_at LIMIT $2::integer
        FOR UPDATE SKIP LOCKED`,
      [options.ids ?? null, options.limit ?? 200],
    );
    if (rows.length === 0) return 0;
    await publisher.publish(ALERTS_TOPIC, rows.map((r) => alertMessage(storedAlert(r))));
    await tx.query('UPDATE alerts SET published_at = now() WHERE id = ANY($1::uuid[])', [rows.map((r) => r.id)]);
    return rows.length;
  });
}

/** Publishes everything left unpublished (a crash between commit and publish, a broker outage), page by page. */
export async function relayUnpublished(db: Store, publisher: Publisher, pageSize = 200): Promise<number> {
  let sent = 0;
  for (;;) {
    const page = await publishPending(db, publisher, { limit: pageSize });
    sent += page;
    if (page < pageSize) return sent;
  }
}

// The W3C format as OpenTelemetry writes and reads it, without the global propagator: an alert names its trace
// whether or not the process registered one.
const w3c = new W3CTraceContextPropagator();

/** The W3C ids of a delivered message's trace context (`Delivered.trace`), or undefined when it has no valid one. */
export function traceRefOf(context: MessageTrace | undefined): TraceRef | undefined {
  if (!context) return undefined;
  const carrier: Record<string, string> = {};
  w3c.inject(context, carrier, defaultTextMapSetter);
  const traceparent = carrier.traceparent;
  const traceId = traceparent ? trace.getSpanContext(context)?.traceId : undefined;
  return traceparent && traceId ? { traceId, traceparent } : undefined;
}

/** A trace context for a stored traceparent: a published alert continues the trace of what triggered it. */
function traceContextOf(traceparent: string): MessageTrace | undefined {
  const context = w3c.extract(ROOT_CONTEXT, { traceparent }, defaultTextMapGetter);
  return trace.getSpanContext(context) ? context : undefined;
}
