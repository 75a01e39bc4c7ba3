export { runService, type RunOptions, type RunningService, type ServiceContext, type ServiceDefinition } from './runtime';
export { Readiness, type ReadinessCheck, type ReadinessReport } from './readiness';
export { retryWithBackoff, backoffDelay, sleep, type BackoffOptions } from './backoff';
export { HttpError, installErrorHandler, type HttpErrorBody } from './http-errors';
export { RuntimeError, RetryAbortedError, describeError, isRetriable } from './errors';
export { defineService, launch, serviceBaseConfig, type LaunchResult, type ServiceModule } from './launch';
