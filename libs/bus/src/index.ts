export type {
  BatchHandler,
  BatchOptions,
  Bus,
  ConsumeOptions,
  Delivered,
  DeliveredMessage,
  EncodedMessage,
  MessageHandler,
  MessageTrace,
  OutgoingMessage,
  PauseOptions,
  Publisher,
  RawMessage,
  RetryOptions,
  Subscription,
  TopicSpec,
} from './bus';
export { BusStats, type BusStatsSnapshot } from './bus-stats';
export {
  BusClosedError,
  BusError,
  ConnectError,
  DeadLetterError,
  HandlerFailedError,
  InvalidBusOptionsError,
  isRetriable,
  MissingTenantError,
  PublishError,
  TenantMismatchError,
} from './errors';
export type { BusErrorCode } from './errors';
export { BUS_HEADERS } from './headers';
export type { BusLogger } from './logger';
export { silentLogger } from './logger';
export { createInProcessBus, InProcessBus } from './in-process/in-process-bus';
export type { InProcessBusOptions } from './in-process/in-process-bus';
export { createKafkaBus, KafkaBus } from './kafka/kafka-bus';
export type { KafkaBusOptions } from './kafka/kafka-bus';
export type { ConnectRetryOptions } from './kafka/broker-connection';
export type { KafkaLogLevel } from './kafka/kafka-logging';
