import type { HeaderBag } from '@dmarc/contracts';

/** Headers the bus sets on every message (besides the contract's avro-fingerprint / avro-schema). */
export const BUS_HEADERS = {
  tenantId: 'tenant-id',
  traceparent: 'traceparent',
  tracestate: 'tracestate',
} as const;

/**
 * Headers as UTF-8 strings, for handlers and trace extraction. A repeated header keeps its last
 * value, as Kafka's Java client `lastHeader` does.
 */
export function stringHeaders(headers: HeaderBag | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    const last = Array.isArray(value) ? value[value.length - 1] : value;
    if (last === undefined) continue;
    out[name] = typeof last === 'string' ? last : (last as Buffer).toString('utf8');
  }
  return out;
}

/** Headers as the original bytes, for the dead-letter envelope; a repeated header keeps its last value. */
export function byteHeaders(headers: HeaderBag | undefined): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    const last = Array.isArray(value) ? value[value.length - 1] : value;
    if (last === undefined) continue;
    out[name] = typeof last === 'string' ? Buffer.from(last, 'utf8') : (last as Buffer);
  }
  return out;
}
