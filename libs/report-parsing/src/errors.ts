/** Errors of the parsing stage, with a stable code and whether a retry can help. */
export class ParsingStageError extends Error {
  constructor(
    readonly code: 'PARSING_RAW_MISSING' | 'PARSING_NO_REPORT',
    message: string,
    readonly retriable: boolean,
  ) {
    super(message);
    this.name = 'ParsingStageError';
  }
}

/** Internal to the batch path: a report it will not hold in memory, left to the per-report path. Never thrown out of the stage. */
export class NotBatchable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotBatchable';
  }
}
