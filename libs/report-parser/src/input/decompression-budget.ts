import { ReportError } from '../errors';

/**
 * How many decompressed bytes one input may still produce, shared by every gzip and zip layer inside it, so a
 * bomb is refused the moment it passes the limit, whatever its nesting and however few bytes it came in.
 */
export class DecompressionBudget {
  private produced = 0;

  constructor(readonly limit: number) {}

  consume(bytes: number, what: string): void {
    this.produced += bytes;
    if (this.produced > this.limit) {
      throw new ReportError(
        'REPORT_DECOMPRESSION_LIMIT',
        `${what} decompresses to more than the ${this.limit}-byte limit: refused as a possible compression bomb`,
      );
    }
  }

  /** Bytes that may still be produced before the limit is passed. */
  get remaining(): number {
    return Math.max(0, this.limit - this.produced);
  }

  get total(): number {
    return this.produced;
  }
}
