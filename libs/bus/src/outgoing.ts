import type { Contracts, DeadLetterInput, EncodedValue, HeaderBag } from '@dmarc/contracts';
import { CONTRACT_HEADERS, dlqTopicOf, EncodeError } from '@dmarc/contracts';
import type { Span } from '@opentelemetry/api';
import type { EncodedMessage, OutgoingMessage } from './bus';
import { codeOf, isRetriable, messageOf, MissingTenantError, TenantMismatchError } from './errors';
import { BUS_HEADERS } from './headers';
import { injectMessageTrace, injectTraceContext } from './tracing';

/** A message as it goes on the wire, the same for both drivers. */
export interface WireRecord {
  key: Buffer | string | null;
  value: Buffer | null;
  headers: Record<string, string | Buffer>;
}

/**
 * Encodes typed messages for `topic` and adds the bus headers. Everything is checked before
 * anything is returned, so a publish call with one bad message sends none.
 */
export function encodeOutgoing(contracts: Contracts, topic: string, messages: ReadonlyArray<OutgoingMessage<unknown> | EncodedMessage>, span: Span): WireRecord[] {
  return messages.map((message) => {
    if (typeof message.tenantId !== 'string' || message.tenantId === '') throw new MissingTenantError(topic);
    let encoded: EncodedValue;
    if ('encoded' in message) {
      encoded = message.encoded;
      const current = contracts.schemaFor(topic);
      if (encoded.headers[CONTRACT_HEADERS.fingerprint] !== current.fingerprint) {
        throw new EncodeError(topic, current.id, ['(root)'], { cause: new Error(`pre-encoded with ${encoded.headers[CONTRACT_HEADERS.schema]}, not ${current.id}`) });
      }
    } else {
      const valueTenant = (message.value as { tenantId?: unknown } | null)?.tenantId;
      if (typeof valueTenant === 'string' && valueTenant !== message.tenantId) {
        throw new TenantMismatchError(topic, message.tenantId, valueTenant);
      }
      encoded = contracts.encode(topic, message.value);
    }
    const headers: Record<string, string> = { ...message.headers, ...encoded.headers, [BUS_HEADERS.tenantId]: message.tenantId };
    delete headers[BUS_HEADERS.traceparent];
    delete headers[BUS_HEADERS.tracestate];
    // A batch handler publishes for many messages at once: each output continues its own input's trace.
    if (message.trace) injectMessageTrace(message.trace, headers);
    else injectTraceContext(span, headers);
    return { key: message.key ?? null, value: encoded.value, headers };
  });
}

/** A message read from a topic, as both drivers hand it to the delivery processor. */
export interface InboundRecord {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: HeaderBag;
}

export interface DeadLetterCause {
  error: unknown;
  attempts: number;
  service: string;
  tenantId: string | undefined;
  now: number;
}

const MAX_REASON = 2_000;

/**
 * The record for `<topic>.dlq`: the original key, value and headers untouched, why it failed,
 * the original tenant, and the active (consumer) span as its trace parent.
 */
export function deadLetterRecord(contracts: Contracts, record: InboundRecord, cause: DeadLetterCause, originalHeaders: Record<string, Buffer>): { topic: string; record: WireRecord } {
  const topic = dlqTopicOf(record.topic);
  const reason = messageOf(cause.error);
  const envelope: DeadLetterInput = {
    originalTopic: record.topic,
    partition: record.partition,
    offset: Number(record.offset),
    key: record.key,
    headers: originalHeaders,
    payload: record.value,
    errorCode: codeOf(cause.error),
    reason: reason.length > MAX_REASON ? `${reason.slice(0, MAX_REASON)}…` : reason,
    retriable: isRetriable(cause.error),
    attempts: cause.attempts,
    failedAt: cause.now,
    service: cause.service,
  };
  const encoded = contracts.encode(topic, envelope);
  const headers: Record<string, string> = { ...encoded.headers };
  if (cause.tenantId) headers[BUS_HEADERS.tenantId] = cause.tenantId;
  injectTraceContext(undefined, headers);
  return { topic, record: { key: record.key, value: encoded.value, headers } };
}
