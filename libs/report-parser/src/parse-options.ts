/** What a caller may tell the parser about an input, and the limits that keep hostile input cheap. */
export interface ParseOptions {
  /** The input's file name, if any: used in messages and to note when the name and the bytes disagree. */
  filename?: string;
  /** The declared MIME type, if any (HTTP Content-Type, e-mail part type): a hint only, the bytes decide. */
  contentType?: string;
  /** Total bytes all decompression of one input may produce (every gzip/zip layer counted). Default 1 GiB. */
  maxDecompressedBytes?: number;
  /** Largest zip archive or e-mail held in memory to be read (both need random access). Default 256 MiB. */
  maxBufferedBytes?: number;
  /** Largest JSON document (SMTP TLS report) after decompression. Default 32 MiB. */
  maxJsonBytes?: number;
  /** Longest text node, tag, comment or DTD in the XML, in characters. Default 65,536. */
  maxTextLength?: number;
  /** Deepest element nesting accepted. Default 64. */
  maxXmlDepth?: number;
  /** Most entries read from one zip archive. Default 1,000. */
  maxZipEntries?: number;
  /** Records per `records` event of the aggregate stream. Default 1,000. */
  recordBatchSize?: number;
}

export type ResolvedParseOptions = Readonly<Required<Omit<ParseOptions, 'filename' | 'contentType'>>> & {
  readonly filename: string | undefined;
  readonly contentType: string | undefined;
};

const MiB = 1024 * 1024;

export const DEFAULT_PARSE_LIMITS = Object.freeze({
  maxDecompressedBytes: 1024 * MiB,
  maxBufferedBytes: 256 * MiB,
  maxJsonBytes: 32 * MiB,
  maxTextLength: 64 * 1024,
  maxXmlDepth: 64,
  maxZipEntries: 1000,
  recordBatchSize: 1000,
});

/** Fills in the defaults once, so hot paths read plain fields; a bad limit is a programming error and throws. */
export function resolveParseOptions(options?: ParseOptions): ResolvedParseOptions {
  if (options === undefined) return DEFAULTS;
  const resolved = {
    filename: options.filename,
    contentType: options.contentType,
    maxDecompressedBytes: options.maxDecompressedBytes ?? DEFAULT_PARSE_LIMITS.maxDecompressedBytes,
    maxBufferedBytes: options.maxBufferedBytes ?? DEFAULT_PARSE_LIMITS.maxBufferedBytes,
    maxJsonBytes: options.maxJsonBytes ?? DEFAULT_PARSE_LIMITS.maxJsonBytes,
    maxTextLength: options.maxTextLength ?? DEFAULT_PARSE_LIMITS.maxTextLength,
    maxXmlDepth: options.maxXmlDepth ?? DEFAULT_PARSE_LIMITS.maxXmlDepth,
    maxZipEntries: options.maxZipEntries ?? DEFAULT_PARSE_LIMITS.maxZipEntries,
    recordBatchSize: options.recordBatchSize ?? DEFAULT_PARSE_LIMITS.recordBatchSize,
  };
  for (const [key, value] of Object.entries(resolved)) {
    if (key === 'filename' || key === 'contentType') continue;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
      throw new RangeError(`report-parser option ${key} must be a positive integer, got ${String(value)}`);
    }
  }
  return Object.freeze(resolved);
}

const DEFAULTS: ResolvedParseOptions = resolveParseOptions({});
