import type { Contracts } from '@dmarc/contracts';
import type { EncodedMessage, OutgoingMessage, RawMessage } from './bus';
import { encodeOutgoing, type WireRecord } from './outgoing';
import { endSpanWithError, startProducerSpan } from './tracing';

export type SendRecords = (topic: string, records: WireRecord[]) => Promise<void>;

/** Typed publish for either driver: a PRODUCER span around encoding and sending, its context in every message. */
export async function publishTyped(
  contracts: Contracts,
  system: string,
  topic: string,
  messages: ReadonlyArray<OutgoingMessage<unknown> | EncodedMessage>,
  send: SendRecords,
): Promise<void> {
  if (messages.length === 0) return;
  const traces = messages.flatMap((m) => ('trace' in m && m.trace ? [m.trace] : []));
  const span = startProducerSpan({ system, topic }, messages.length, traces);
  try {
    await send(topic, encodeOutgoing(contracts, topic, messages, span));
    span.end();
  } catch (error) {
    endSpanWithError(span, error);
    throw error;
  }
}

export function rawRecords(messages: ReadonlyArray<RawMessage>): WireRecord[] {
  return messages.map((m) => ({ key: m.key ?? null, value: m.value, headers: { ...m.headers } }));
}
