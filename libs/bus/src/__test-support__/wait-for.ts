/** Polls `check` until it returns true, or fails the test after `timeoutMs` with `what`. */
export async function waitFor(what: string, check: () => boolean, timeoutMs = 5_000, everyMs = 5): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** Resolves after `ms`. For tests that must show something did *not* happen within a window. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** An error a handler throws on purpose, retriable or not, with a stable code like any lib error. */
export class TestDownstreamError extends Error {
  constructor(
    readonly code: string,
    readonly retriable: boolean,
    message = code,
  ) {
    super(message);
  }
}
