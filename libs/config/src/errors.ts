/** One problem with one variable; a ConfigError carries all of them so an operator fixes everything in one go. */
export interface ConfigIssue {
  /** The environment variable, e.g. `PORT`. */
  readonly variable: string;
  /** Why it was rejected, e.g. `must be an integer between 1 and 65535`. */
  readonly reason: string;
  /** What was given, already redacted for secrets; absent when the variable was not set. */
  readonly got?: string;
}

export type ConfigErrorCode = 'CONFIG_INVALID' | 'CONFIG_SPEC_INVALID';

export abstract class ConfigBaseError extends Error {
  abstract readonly code: ConfigErrorCode;
  /** Configuration does not fix itself: restarting with the same environment fails the same way. */
  readonly retriable = false;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * The environment does not satisfy the spec. The message is a single line naming every bad variable,
 * so a service can print it and exit without a stack trace.
 */
export class ConfigError extends ConfigBaseError {
  readonly code = 'CONFIG_INVALID';

  constructor(readonly issues: readonly ConfigIssue[]) {
    super(issues.map(formatIssue).join('; '));
  }
}

/** The spec itself is wrong (a bad default, min > max): a programming error, raised when the spec is built. */
export class ConfigSpecError extends ConfigBaseError {
  readonly code = 'CONFIG_SPEC_INVALID';
}

export function formatIssue(issue: ConfigIssue): string {
  return issue.got === undefined
    ? `${issue.variable}: ${issue.reason}`
    : `${issue.variable}: ${issue.reason}, got ${issue.got}`;
}
