export { startTelemetry, type Telemetry, type TelemetryOptions } from './telemetry';
export { createLogger, type Logger, type LoggerOptions, type LogLevel } from './logger';
