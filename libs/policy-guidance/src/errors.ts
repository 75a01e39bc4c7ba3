export type PolicyGuidanceErrorCode = 'GUIDANCE_INVALID_THRESHOLDS';

/**
 * An error of the guidance library itself (a threshold override out of range): a programming or configuration
 * mistake, never retriable. What a request gets wrong (another tenant's domain, a source that is not proposed)
 * is answered with @dmarc/tenant-admin's HTTP errors, as every other configuration route does.
 */
export class PolicyGuidanceError extends Error {
  readonly retriable = false;

  constructor(
    readonly code: PolicyGuidanceErrorCode,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'PolicyGuidanceError';
  }
}
