// Every error the bus throws, with a stable `code` and `retriable`. Consumers decide by
// `retriable` alone (CONVENTIONS §4): true → back off, pause, try again; false → dead-letter.

export type BusErrorCode =
  | 'BUS_MISSING_TENANT'
  | 'BUS_TENANT_MISMATCH'
  | 'BUS_PUBLISH_FAILED'
  | 'BUS_DEAD_LETTER_FAILED'
  | 'BUS_CONNECT_FAILED'
  | 'BUS_CLOSED'
  | 'BUS_INVALID_OPTIONS'
  | 'BUS_HANDLER_FAILED';

export abstract class BusError extends Error {
  abstract readonly code: BusErrorCode;
  abstract readonly retriable: boolean;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A message without a tenant: published without `tenantId`, or read without a `tenant-id` header. */
export class MissingTenantError extends BusError {
  readonly code = 'BUS_MISSING_TENANT';
  readonly retriable = false;

  constructor(readonly topic: string) {
    super(`message on ${topic} has no tenant id`);
  }
}

/** The tenant of the message and the `tenantId` inside its value disagree: never deliver it. */
export class TenantMismatchError extends BusError {
  readonly code = 'BUS_TENANT_MISMATCH';
  readonly retriable = false;

  constructor(
    readonly topic: string,
    readonly headerTenant: string,
    readonly valueTenant: string,
  ) {
    super(`message on ${topic} is for tenant ${headerTenant} but its value says ${valueTenant}`);
  }
}

/** The broker did not take a batch. Retriable when the underlying client error is. */
export class PublishError extends BusError {
  readonly code = 'BUS_PUBLISH_FAILED';

  constructor(
    readonly topics: string[],
    readonly retriable: boolean,
    options: { cause: unknown },
  ) {
    super(`publishing to ${topics.join(', ')} failed: ${messageOf(options.cause)}`, options);
  }
}

/** A message could not be put on its DLQ topic; it stays uncommitted and is tried again. */
export class DeadLetterError extends BusError {
  readonly code = 'BUS_DEAD_LETTER_FAILED';
  readonly retriable = true;

  constructor(
    readonly dlqTopic: string,
    options: { cause: unknown },
  ) {
    super(`could not dead-letter to ${dlqTopic}: ${messageOf(options.cause)}`, options);
  }
}

/** Kafka stayed unreachable for every connection attempt allowed. */
export class ConnectError extends BusError {
  readonly code = 'BUS_CONNECT_FAILED';
  readonly retriable = true;

  constructor(
    readonly brokers: string[],
    readonly attempts: number,
    options: { cause: unknown },
  ) {
    super(`kafka unreachable at ${brokers.join(',')} after ${attempts} attempt(s): ${messageOf(options.cause)}`, options);
  }
}

// Retriable: a handler publishing while its process shuts down leaves its input uncommitted, and
// the message is handled again after the restart; it must not be dead-lettered.
/** The bus (or consumer) is closed or closing. */
export class BusClosedError extends BusError {
  readonly code = 'BUS_CLOSED';
  readonly retriable = true;

  constructor(what: string) {
    super(`${what} is closed`);
  }
}

/** Options that cannot work, reported once at start. */
export class InvalidBusOptionsError extends BusError {
  readonly code = 'BUS_INVALID_OPTIONS';
  readonly retriable = false;
}

/** Stands in for a thrown value that is not an Error, so the DLQ still gets a code and reason. */
export class HandlerFailedError extends BusError {
  readonly code = 'BUS_HANDLER_FAILED';
  readonly retriable = false;

  constructor(thrown: unknown) {
    super(`handler threw a non-error value: ${String(thrown)}`);
  }
}

/** Whether to try again: only an error that says `retriable: true` is. */
export function isRetriable(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { retriable?: unknown }).retriable === true;
}

/** The stable code of any error, for logs and dead letters; `UNCLASSIFIED` when it has none. */
export function codeOf(error: unknown): string {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' && code !== '' ? code : 'UNCLASSIFIED';
}

/** One line: the message, then the causes' messages. No stack. */
export function messageOf(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 4; depth++) {
    const text = current instanceof Error ? current.message : String(current);
    // Client libraries often wrap an error in one with the same message; say it once.
    if (!parts.some((p) => p.includes(text))) parts.push(text);
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join(': caused by: ').replace(/\s*\n\s*/g, ' ');
}
