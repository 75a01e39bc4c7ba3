export { Contracts, loadContracts } from './contracts';
export type { ContractsOptions, DecodedValue, DlqTopic, EncodedValue, KnownTopic, TopicInput, TopicValue } from './contracts';
export {
  ContractError,
  DecodeError,
  EncodeError,
  SchemaLoadError,
  SchemasDirNotFoundError,
  UnknownTopicError,
} from './errors';
export type { ContractErrorCode, DecodeErrorCode } from './errors';
export { ValueExtension, type ReadValue } from './extension';
export { CONTRACT_HEADERS, headerValues } from './headers';
export type { HeaderBag, HeaderValue } from './headers';
export type { SchemaSubject, SchemaVersion } from './schema-loader';
export { findSchemasDir } from './schemas-dir';
export { DLQ_SUBJECT, dlqTopicOf, isDlqTopic, TOPICS } from './topic-names';
export * from './generated/types';
