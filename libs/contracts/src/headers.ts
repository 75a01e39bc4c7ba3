/** Kafka headers every encoded message carries. */
export const CONTRACT_HEADERS = {
  /** Lower-case hex SHA-256 of the writer schema's Parsing Canonical Form: how a reader finds it. */
  fingerprint: 'avro-fingerprint',
  /** `<subject>/v<N>` of the writer schema, for people and tools; decoding trusts the fingerprint only. */
  schema: 'avro-schema',
} as const;

/** Header values as Kafka clients hand them over (kafkajs `IHeaders`). */
export type HeaderValue = string | Buffer | ReadonlyArray<string | Buffer> | undefined;
export type HeaderBag = Readonly<Record<string, HeaderValue>>;

/**
 * The distinct values of a header, decoded as UTF-8: empty when absent. Kafka allows a header to
 * repeat, so more than one value means the message is ambiguous and the caller must say so.
 */
export function headerValues(headers: HeaderBag | undefined, name: string): string[] {
  const raw = headers?.[name];
  if (raw === undefined) return [];
  const list: ReadonlyArray<string | Buffer> = typeof raw === 'string' || Buffer.isBuffer(raw) ? [raw] : raw;
  return [...new Set(list.map((v) => (typeof v === 'string' ? v : v.toString('utf8'))))];
}
