export type AggregationErrorCode =
  /** A chunk that breaks the contract (negative count, unknown disposition, bad dates): DLQ it. */
  | 'AGGREGATION_INVALID_CHUNK'
  /** The ledger holds this report id and chunk for another tenant: ids must be unique across tenants. */
  | 'AGGREGATION_REPORT_ID_COLLISION'
  /** A read asked for a day range that is not one (bad date, from after to, too long). */
  | 'AGGREGATION_INVALID_RANGE';

/**
 * Errors of aggregation, with a stable code and whether trying again can help. None can: the
 * same chunk or query fails the same way every time, so the consumer dead-letters the chunk with this
 * reason and the HTTP API answers 400 naming the field.
 */
export class AggregationError extends Error {
  readonly retriable = false;

  constructor(
    readonly code: AggregationErrorCode,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'AggregationError';
  }
}
