// Every error this library throws. Each has a stable `code` callers may branch on, and a
// `retriable` flag the bus uses alone to decide between retrying and dead-lettering: nothing a
// contract rejects gets better by trying again, so none of them is retriable.

export type ContractErrorCode =
  | 'CONTRACT_SCHEMA_INVALID'
  | 'CONTRACT_SCHEMAS_DIR_NOT_FOUND'
  | 'CONTRACT_UNKNOWN_TOPIC'
  | 'CONTRACT_INVALID_VALUE'
  | 'CONTRACT_MISSING_FINGERPRINT'
  | 'CONTRACT_UNKNOWN_SCHEMA'
  | 'CONTRACT_MALFORMED';

export abstract class ContractError extends Error {
  abstract readonly code: ContractErrorCode;
  readonly retriable = false;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A schema file is unreadable, not valid Avro, or breaks the evolution rules of its topic. */
export class SchemaLoadError extends ContractError {
  readonly code = 'CONTRACT_SCHEMA_INVALID';

  constructor(
    readonly file: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(`schema ${file}: ${reason}`, options);
  }
}

/** No `schemas/` folder was found above the given start directory. */
export class SchemasDirNotFoundError extends ContractError {
  readonly code = 'CONTRACT_SCHEMAS_DIR_NOT_FOUND';

  constructor(readonly startDir: string) {
    super(`no schemas/ directory found in ${startDir} or any parent`);
  }
}

/** The topic has no schema: neither a folder in schemas/, a `.dlq` of one, nor a configured alias. */
export class UnknownTopicError extends ContractError {
  readonly code = 'CONTRACT_UNKNOWN_TOPIC';

  constructor(readonly topic: string) {
    super(`topic ${topic} has no schema in schemas/ (and is not <topic>.dlq of one)`);
  }
}

/** A value handed to `encode` does not match the topic's schema; `paths` names the offending fields. */
export class EncodeError extends ContractError {
  readonly code = 'CONTRACT_INVALID_VALUE';

  constructor(
    readonly topic: string,
    readonly schema: string,
    readonly paths: string[],
    options?: { cause?: unknown },
  ) {
    super(`value for ${topic} does not match ${schema}: invalid field(s) ${paths.join(', ') || '(root)'}`, options);
  }
}

export type DecodeErrorCode = 'CONTRACT_MISSING_FINGERPRINT' | 'CONTRACT_UNKNOWN_SCHEMA' | 'CONTRACT_MALFORMED';

/** A message read from a topic cannot be turned into a value of that topic's schema. */
export class DecodeError extends ContractError {
  constructor(
    readonly code: DecodeErrorCode,
    readonly topic: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`cannot decode message from ${topic}: ${reason}`, options);
  }
}
