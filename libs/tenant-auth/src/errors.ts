import { HttpError } from '@dmarc/service-runtime';

export type TenantAuthErrorCode = 'UNAUTHORIZED';

/**
 * The request carries no usable API key. One code for missing, malformed, unknown and revoked keys:
 * telling them apart would help someone probing for valid keys and helps no honest caller.
 * An HttpError, so the platform's error handler answers 401 `{ error: 'UNAUTHORIZED', message }`.
 */
export class UnauthorizedError extends HttpError {
  override readonly code: TenantAuthErrorCode = 'UNAUTHORIZED';
  readonly retriable = false;

  constructor(message: string) {
    super(401, 'UNAUTHORIZED', message);
    this.name = 'UnauthorizedError';
  }
}
