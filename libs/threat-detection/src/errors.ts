import { HttpError } from '@dmarc/service-runtime';

export type ThreatDetectionErrorCode =
  /** An alert rule's settings are not valid (a threshold out of range, an unknown threshold or rule). */
  'VALIDATION_FAILED';

/**
 * Errors of threat detection, with a stable code and whether trying again can help (never: the same settings
 * fail the same way). An HttpError, so the API answers `{ error: code, message, field }` with its status; the
 * aggregation service logs it and runs the rule with its defaults instead.
 */
export class ThreatDetectionError extends HttpError {
  override readonly code: ThreatDetectionErrorCode;
  readonly retriable = false;

  constructor(statusCode: number, code: ThreatDetectionErrorCode, message: string, field?: string) {
    super(statusCode, code, message, field);
    this.code = code;
    this.name = 'ThreatDetectionError';
  }
}

/**
 * A rule setting the platform refuses. `message` names the rule and the threshold and says why
 * (`spoofing.minMessages must be an integer ≥ 1, not 0`); `field` is where it sits in an API body
 * (`thresholds.minMessages`).
 */
export class InvalidRuleSettingError extends ThreatDetectionError {
  constructor(message: string, field: string) {
    super(400, 'VALIDATION_FAILED', message, field);
    this.name = 'InvalidRuleSettingError';
  }
}
