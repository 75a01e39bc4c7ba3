export { ConfigBaseError, ConfigError, ConfigSpecError, type ConfigErrorCode, type ConfigIssue } from './errors';
export type { NoOptions, Parsed, Resolved, Setting, SettingOptions, ValueOf } from './setting';
export { defineConfig, loadConfig, redactConfig, type ConfigOf, type ConfigSpec, type Env } from './load-config';
export { bool, int, oneOf, port, string, type BoolOptions, type IntOptions, type PortOptions, type StringOptions } from './scalar-settings';
export { duration, parseDuration, type DurationOptions } from './duration';
export {
  brokers,
  formatHostPort,
  hostPortList,
  maskUrl,
  parseHostPort,
  url,
  type BrokersOptions,
  type HostPort,
  type HostPortListOptions,
  type UrlOptions,
} from './network-settings';
export { commonServiceConfig, LOG_LEVELS, type LogLevel } from './common-service-config';
