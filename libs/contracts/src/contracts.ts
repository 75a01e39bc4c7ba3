import type * as avro from 'avsc';
import { avroBytes } from './avro-bytes';
import { DecodeError, EncodeError, SchemaLoadError, UnknownTopicError } from './errors';
import type { DeadLetter, DeadLetterInput, TopicInputs, TopicValues } from './generated/types';
import { ValueExtension } from './extension';
import { CONTRACT_HEADERS, type HeaderBag, headerValues } from './headers';
import { loadSchemaSubjects, type SchemaSubject, type SchemaVersion } from './schema-loader';
import { findSchemasDir } from './schemas-dir';
import { DLQ_SUBJECT, isDlqTopic } from './topic-names';

export type KnownTopic = keyof TopicValues & string;
export type DlqTopic = `${string}.dlq`;

/**
 * The decoded value type of a topic. Topics the generated types do not know (test topics, aliases)
 * get `unknown`: the schema is still enforced at run time, the caller narrows.
 */
export type TopicValue<T extends string> = T extends KnownTopic ? TopicValues[T] : T extends DlqTopic ? DeadLetter : unknown;
/** What `encode` accepts for a topic: as TopicValue, but fields with a schema default may be left out. */
export type TopicInput<T extends string> = T extends KnownTopic ? TopicInputs[T] : T extends DlqTopic ? DeadLetterInput : unknown;

export interface ContractsOptions {
  /** The `schemas/` folder; defaults to the repository's, found from this package. */
  schemasDir?: string;
  /**
   * Extra topic names and the subject whose schema they use (topic → subject): per-run test
   * topics, or environment-prefixed names. Their `.dlq` topics follow automatically.
   */
  topicAliases?: Readonly<Record<string, string>>;
  /**
   * Subject → the version this process reads and writes; the latest by default. Pinning an older
   * version is how a consumer not yet moved to a new version keeps its old shape.
   */
  pinnedVersions?: Readonly<Record<string, number>>;
}

/** An encoded value and the headers that let any reader find its writer schema. */
export interface EncodedValue {
  value: Buffer;
  headers: { [CONTRACT_HEADERS.fingerprint]: string; [CONTRACT_HEADERS.schema]: string };
}

export interface DecodedValue<V> {
  value: V;
  /** The schema the producer wrote with, `<subject>/v<N>`. */
  writer: string;
  /** The schema the value was resolved to, `<subject>/v<N>`. */
  reader: string;
}

const MAX_ECHOED_HEADER = 120;

/**
 * The typed codec of every topic: Avro per the `.avsc` files, the writer schema's fingerprint in a
 * header, decoding any known version of a subject into the version this process reads.
 */
export class Contracts {
  private readonly subjects: ReadonlyMap<string, SchemaSubject>;
  private readonly current = new Map<string, SchemaVersion>();
  private readonly byFingerprint = new Map<string, Map<string, SchemaVersion>>();
  private readonly resolvers = new Map<string, avro.Resolver>();

  constructor(
    subjects: ReadonlyMap<string, SchemaSubject>,
    private readonly options: Pick<ContractsOptions, 'topicAliases' | 'pinnedVersions'> = {},
  ) {
    this.subjects = subjects;
    for (const subject of subjects.values()) {
      const pinned = options.pinnedVersions?.[subject.name];
      const version = pinned === undefined ? subject.latest : subject.versions[pinned - 1];
      if (!version) throw new SchemaLoadError(subject.name, `pinned version v${pinned} does not exist`);
      this.current.set(subject.name, version);
      this.byFingerprint.set(subject.name, new Map(subject.versions.map((v) => [v.fingerprint, v])));
    }
    for (const [topic, subject] of Object.entries(options.topicAliases ?? {})) {
      if (!subjects.has(subject)) throw new SchemaLoadError(subject, `alias ${topic} names a subject with no schema`);
    }
    for (const subject of Object.keys(options.pinnedVersions ?? {})) {
      if (!subjects.has(subject)) throw new SchemaLoadError(subject, 'pinned subject has no schema');
    }
  }

  /** Reads and checks every schema under `options.schemasDir` (the repository's by default). */
  static load(options: ContractsOptions = {}): Contracts {
    const dir = options.schemasDir ?? findSchemasDir();
    return new Contracts(loadSchemaSubjects(dir), options);
  }

  /** Subject names found in the schemas folder. */
  subjectNames(): string[] {
    return [...this.subjects.keys()];
  }

  /** Every version of a subject, oldest first. */
  versionsOf(subject: string): readonly SchemaVersion[] {
    const found = this.subjects.get(subject);
    if (!found) throw new UnknownTopicError(subject);
    return found.versions;
  }

  hasTopic(topic: string): boolean {
    return this.subjectOf(topic) !== undefined;
  }

  /** The schema version this process writes to, and reads from, `topic`. */
  schemaFor(topic: string): SchemaVersion {
    const subject = this.subjectOf(topic);
    if (subject === undefined) throw new UnknownTopicError(topic);
    return this.current.get(subject) as SchemaVersion;
  }

  /**
   * The writer of `to`'s values from `from`'s values as read, when `to`'s schema is `from`'s fields followed
   * by more (see ValueExtension): the shared part travels as the bytes read. Checked once, here.
   * @throws SchemaLoadError when `to`'s current schema does not start with `from`'s; UnknownTopicError.
   */
  extension(from: string, to: string): ValueExtension {
    return new ValueExtension(this.schemaFor(from), this.schemaFor(to));
  }

  /** @throws EncodeError when the value does not match the schema; UnknownTopicError. */
  encode<T extends string>(topic: T, value: TopicInput<T>): EncodedValue {
    const schema = this.schemaFor(topic);
    let buffer: Buffer;
    try {
      buffer = avroBytes(schema.type, value);
    } catch (cause) {
      throw new EncodeError(topic, schema.id, invalidPaths(schema.type, value), { cause });
    }
    return {
      value: buffer,
      headers: { [CONTRACT_HEADERS.fingerprint]: schema.fingerprint, [CONTRACT_HEADERS.schema]: schema.id },
    };
  }

  /**
   * Decodes a message read from `topic`, whatever version of the subject it was written with.
   * @throws DecodeError (never retriable) for a missing or unknown fingerprint or bytes that do not
   *   parse; UnknownTopicError.
   */
  decode<T extends string>(topic: T, value: Buffer | null | undefined, headers: HeaderBag | undefined): DecodedValue<TopicValue<T>> {
    const reader = this.schemaFor(topic);
    const fingerprints = headerValues(headers, CONTRACT_HEADERS.fingerprint);
    if (fingerprints.length === 0) {
      throw new DecodeError('CONTRACT_MISSING_FINGERPRINT', topic, `no ${CONTRACT_HEADERS.fingerprint} header`);
    }
    if (fingerprints.length > 1) {
      throw new DecodeError('CONTRACT_MALFORMED', topic, `${fingerprints.length} different ${CONTRACT_HEADERS.fingerprint} headers`);
    }
    const writer = this.byFingerprint.get(reader.subject)?.get(fingerprints[0].toLowerCase());
    if (!writer) {
      const claimed = headerValues(headers, CONTRACT_HEADERS.schema).join(',') || 'none';
      throw new DecodeError(
        'CONTRACT_UNKNOWN_SCHEMA',
        topic,
        `fingerprint ${echo(fingerprints[0])} (${CONTRACT_HEADERS.schema}: ${echo(claimed)}) is not a version of ${reader.subject}`,
      );
    }
    if (value === null || value === undefined) {
      throw new DecodeError('CONTRACT_MALFORMED', topic, 'message has no value');
    }
    try {
      const decoded =
        writer === reader ? reader.type.fromBuffer(value) : reader.type.fromBuffer(value, this.resolver(writer, reader));
      return { value: decoded as TopicValue<T>, writer: writer.id, reader: reader.id };
    } catch (cause) {
      throw new DecodeError('CONTRACT_MALFORMED', topic, `bytes do not parse as ${writer.id}: ${(cause as Error).message}`, {
        cause,
      });
    }
  }

  private subjectOf(topic: string): string | undefined {
    if (this.subjects.has(topic)) return topic;
    const alias = this.options.topicAliases?.[topic];
    if (alias !== undefined) return alias;
    if (isDlqTopic(topic) && this.subjects.has(DLQ_SUBJECT)) return DLQ_SUBJECT;
    return undefined;
  }

  // Resolvers are built once per writer/reader pair: building one walks both schemas.
  private resolver(writer: SchemaVersion, reader: SchemaVersion): avro.Resolver {
    const key = `${writer.id}>${reader.id}`;
    let resolver = this.resolvers.get(key);
    if (!resolver) {
      resolver = reader.type.createResolver(writer.type);
      this.resolvers.set(key, resolver);
    }
    return resolver;
  }
}

/** Loads the contracts; with no options, the repository's schemas/ folder. */
export function loadContracts(options: ContractsOptions = {}): Contracts {
  return Contracts.load(options);
}

function invalidPaths(type: avro.Type, value: unknown): string[] {
  const paths: string[] = [];
  type.isValid(value, { errorHook: (path: string[]) => paths.push(path.join('.') || '(root)') });
  return paths;
}

// Header values come from whoever produced the message; cap what we repeat into logs and the DLQ.
function echo(text: string): string {
  const printable = text.replace(/[^\x20-\x7e]/g, '?');
  return printable.length > MAX_ECHOED_HEADER ? `${printable.slice(0, MAX_ECHOED_HEADER)}…` : printable;
}
