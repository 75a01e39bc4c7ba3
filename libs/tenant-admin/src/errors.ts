import { HttpError } from '@dmarc/service-runtime';

export type TenantAdminErrorCode = 'NOT_FOUND' | 'CONFLICT' | 'VALIDATION_FAILED' | 'RATE_LIMITED';

/**
 * An error of a tenant's configuration request. An HttpError, so the platform's error handler answers
 * `{ error: code, message, field? }` with its status; `retriable` says whether the same request may
 * succeed later unchanged (only a rate limit does).
 */
export class TenantAdminError extends HttpError {
  override readonly code: TenantAdminErrorCode;

  constructor(
    statusCode: number,
    code: TenantAdminErrorCode,
    message: string,
    field?: string,
    readonly retriable = false,
  ) {
    super(statusCode, code, message, field);
    this.code = code;
    this.name = 'TenantAdminError';
  }
}

/**
 * The resource does not exist for this tenant. Also what another tenant's resource answers: 404, never
 * 403, so a key cannot learn which domains, users or keys other tenants have.
 */
export class NotFoundError extends TenantAdminError {
  constructor(what: string) {
    super(404, 'NOT_FOUND', `${what} not found`);
    this.name = 'NotFoundError';
  }
}

/** The write would duplicate something the tenant already has (a domain, a source, a user's e-mail). */
export class ConflictError extends TenantAdminError {
  constructor(message: string, field?: string) {
    super(409, 'CONFLICT', message, field);
    this.name = 'ConflictError';
  }
}

/** A value the schema lets through but the domain refuses (a domain name's labels, a CIDR's prefix). */
export class InvalidInputError extends TenantAdminError {
  constructor(field: string, message: string) {
    super(400, 'VALIDATION_FAILED', message, field);
    this.name = 'InvalidInputError';
  }
}

/** The tenant used up its operations per second; retry after `retryAfterSeconds`. */
export class RateLimitedError extends TenantAdminError {
  constructor(readonly retryAfterSeconds: number) {
    super(429, 'RATE_LIMITED', `rate limit of your tier exceeded; retry after ${retryAfterSeconds} s`, undefined, true);
    this.name = 'RateLimitedError';
  }
}
