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
