export type IntakeErrorCode = 'INTAKE_EMPTY' | 'INTAKE_TOO_LARGE' | 'INTAKE_UNSUPPORTED' | 'INTAKE_TENANT_UNKNOWN';

/**
 * Errors of report intake, with a stable code and whether a retry can help. A refused report is kept
 * (status failed, with this message as its reason) before the error is thrown; `reportId` names that
 * row so the sender can look it up.
 */
export class IntakeError extends Error {
  readonly retriable = false;
  constructor(
    readonly code: IntakeErrorCode,
    message: string,
    readonly field?: string,
    readonly reportId?: string,
  ) {
    super(message);
    this.name = 'IntakeError';
  }

  /** The same refusal, now that it has been kept under `reportId`. */
  keptAs(reportId: string): IntakeError {
    return new IntakeError(this.code, this.message, this.field, reportId);
  }
}
