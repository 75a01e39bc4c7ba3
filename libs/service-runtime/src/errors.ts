/** Errors of the service runtime, with a stable code and whether a retry can help. */
export class RuntimeError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly retriable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'RuntimeError';
  }
}

export class RetryAbortedError extends RuntimeError {
  constructor(what: string, cause?: unknown) {
    super('RUNTIME_RETRY_ABORTED', `${what}: gave up (service is stopping)`, false, { cause });
  }
}

/** A short, single-line description of any thrown value: for logs that must not carry stack traces. */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    const text = err.message.split('\n')[0] || err.name;
    return typeof code === 'string' && !text.includes(code) ? `${code}: ${text}` : text;
  }
  return String(err);
}

/** Whether an error says it may succeed on a later attempt (CONVENTIONS §4: decide by the flag alone). */
export function isRetriable(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { retriable?: unknown }).retriable === true;
}
