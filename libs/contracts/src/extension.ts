import type * as avro from 'avsc';
import type { EncodedValue } from './contracts';
import { EncodeError, SchemaLoadError } from './errors';
import { CONTRACT_HEADERS } from './headers';
import type { SchemaVersion } from './schema-loader';

/** A value as a consumer received it: the bytes, the schema they were written with, and the decoded value. */
export interface ReadValue {
  /** The encoded bytes as read. */
  readonly raw: Buffer;
  /** Their writer schema, `<subject>/v<N>` (the bus's `Delivered.writer`). */
  readonly writer: string;
  /** The same value decoded into the reader's (current) version. */
  readonly value: unknown;
}

/**
 * Writes values of a schema whose leading fields are exactly another schema's fields (same names, order
 * and types; the record names and docs may differ) and that adds fields after them, from a value of the
 * shorter schema as read. Avro encodes a record as its fields' encodings one after another, so the bytes
 * read followed by the trailing fields' encodings are a value of the longer schema: the shared part (the
 * records of a report chunk, for dmarc.reports.enriched over dmarc.reports.parsed) is neither re-encoded
 * nor copied field by field. Bytes written with an older version of the shorter schema are re-encoded in
 * its current version first, so the result is always the current longer schema.
 */
export class ValueExtension {
  private readonly trailing: ReadonlyArray<{ name: string; type: avro.Type; fallback: () => unknown }>;

  /** @throws SchemaLoadError naming the first field where `to` does not start with `from`'s fields. */
  constructor(
    private readonly from: SchemaVersion,
    private readonly to: SchemaVersion,
  ) {
    const fromFields = recordFields(from);
    const toFields = recordFields(to);
    if (toFields.length <= fromFields.length) {
      throw new SchemaLoadError(to.file, `${to.id} must have every field of ${from.id} and at least one more, has ${toFields.length} against ${fromFields.length}`);
    }
    fromFields.forEach((field, i) => {
      const difference = field.name !== toFields[i].name ? `field ${i} is ${toFields[i].name}, not ${field.name}` : shapeDifference(field.type, toFields[i].type, field.name);
      if (difference) throw new SchemaLoadError(to.file, `${to.id} does not start with the fields of ${from.id}: ${difference}`);
    });
    this.trailing = toFields.slice(fromFields.length).map((field) => ({
      name: field.name,
      type: field.type,
      fallback: () => {
        const value = field.defaultValue();
        if (value === undefined) throw new EncodeError(to.subject, to.id, [field.name]);
        return value;
      },
    }));
  }

  /** The names of the fields `encode` adds, in order. */
  get addedFields(): string[] {
    return this.trailing.map((f) => f.name);
  }

  /**
   * `read` followed by `added` (the trailing fields by name; a field left out takes its schema default),
   * with the headers naming the longer schema.
   * @throws EncodeError naming the added field that does not match its type (or has no value nor default).
   */
  encode(read: ReadValue, added: object): EncodedValue {
    const fields = added as Readonly<Record<string, unknown>>;
    const head = read.writer === this.from.id ? read.raw : this.reencode(read.value);
    const parts: Buffer[] = [head];
    for (const field of this.trailing) {
      const value = fields[field.name] === undefined ? field.fallback() : fields[field.name];
      try {
        parts.push(field.type.toBuffer(value));
      } catch (cause) {
        throw new EncodeError(this.to.subject, this.to.id, [field.name], { cause });
      }
    }
    return {
      value: Buffer.concat(parts),
      headers: { [CONTRACT_HEADERS.fingerprint]: this.to.fingerprint, [CONTRACT_HEADERS.schema]: this.to.id },
    };
  }

  private reencode(value: unknown): Buffer {
    try {
      return this.from.type.toBuffer(value);
    } catch (cause) {
      throw new EncodeError(this.from.subject, this.from.id, ['(root)'], { cause });
    }
  }
}

type Field = { name: string; type: avro.Type; defaultValue(): unknown };

function recordFields(version: SchemaVersion): Field[] {
  return (version.type as unknown as { fields: Field[] }).fields;
}

/**
 * Where two types would not encode the same values to the same bytes, or undefined when they do. Names,
 * namespaces, docs, defaults and aliases do not matter to the bytes; everything else does, logical types
 * included (a timestamp-millis and a plain long read differently).
 */
function shapeDifference(a: avro.Type, b: avro.Type, path: string): string | undefined {
  const [ta, tb] = [a.typeName, b.typeName];
  if (ta !== tb) return `${path} is ${tb}, not ${ta}`;
  const x = a as unknown as Shape;
  const y = b as unknown as Shape;
  if (x.underlyingType) return shapeDifference(x.underlyingType, y.underlyingType!, path);
  switch (ta) {
    case 'record':
    case 'error': {
      const [fa, fb] = [x.fields!, y.fields!];
      if (fa.length !== fb.length) return `${path} has ${fb.length} fields, not ${fa.length}`;
      for (let i = 0; i < fa.length; i++) {
        if (fa[i].name !== fb[i].name) return `${path} field ${i} is ${fb[i].name}, not ${fa[i].name}`;
        const inner = shapeDifference(fa[i].type, fb[i].type, `${path}.${fa[i].name}`);
        if (inner) return inner;
      }
      return undefined;
    }
    case 'array':
      return shapeDifference(x.itemsType!, y.itemsType!, `${path}[]`);
    case 'map':
      return shapeDifference(x.valuesType!, y.valuesType!, `${path}{}`);
    case 'enum':
      return x.symbols!.join() === y.symbols!.join() ? undefined : `${path} has symbols ${y.symbols!.join()}, not ${x.symbols!.join()}`;
    case 'fixed':
      return x.size === y.size ? undefined : `${path} has size ${y.size}, not ${x.size}`;
    default:
      if (ta.startsWith('union')) {
        const [ua, ub] = [x.types!, y.types!];
        if (ua.length !== ub.length) return `${path} is a union of ${ub.length}, not ${ua.length}`;
        for (let i = 0; i < ua.length; i++) {
          const inner = shapeDifference(ua[i], ub[i], `${path}|${i}`);
          if (inner) return inner;
        }
      }
      return undefined;
  }
}

interface Shape {
  fields?: Field[];
  itemsType?: avro.Type;
  valuesType?: avro.Type;
  types?: avro.Type[];
  symbols?: string[];
  size?: number;
  underlyingType?: avro.Type;
}
