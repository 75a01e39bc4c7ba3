/** Errors of report intake, with a stable code and whether a retry can help. */
export class IntakeError extends Error {
  readonly retriable = false;
  constructor(
    readonly code: 'INTAKE_EMPTY' | 'INTAKE_TOO_LARGE' | 'INTAKE_TENANT_UNKNOWN',
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'IntakeError';
  }
}
