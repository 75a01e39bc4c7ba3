import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import * as avro from 'avsc';
import { SchemaLoadError } from './errors';

/** One `schemas/<subject>/v<N>.avsc` file, parsed. */
export interface SchemaVersion {
  /** The folder name: the topic the schema was written for, e.g. `dmarc.reports.inbound`. */
  readonly subject: string;
  readonly version: number;
  /** `<subject>/v<N>`: what travels in the `avro-schema` header. */
  readonly id: string;
  readonly file: string;
  /** The schema as written (with docs, defaults and logical types). */
  readonly schema: avro.Schema;
  readonly type: avro.Type;
  /** Lower-case hex SHA-256 of the schema's Parsing Canonical Form. */
  readonly fingerprint: string;
}

/** All versions of one subject, oldest first. */
export interface SchemaSubject {
  readonly name: string;
  readonly versions: readonly SchemaVersion[];
  readonly latest: SchemaVersion;
}


const SUBJECT_NAME = /^[a-z0-9][a-z0-9_-]*(\.[a-z0-9][a-z0-9_-]*)*$/;
const VERSION_FILE = /^v([1-9][0-9]*)\.avsc$/;

/**
 * Reads every `<subject>/v<N>.avsc` under `dir` and checks the rules of schemas/README.md:
 * versions numbered 1..N without gaps, a record at the top, every pair of versions of a subject
 * readable by each other (full compatibility), and no two versions with the same canonical form.
 */
export function loadSchemaSubjects(dir: string): Map<string, SchemaSubject> {
  const subjects = new Map<string, SchemaSubject>();
  for (const entry of readdirSync(dir).sort()) {
    const subjectDir = join(dir, entry);
    if (!statSync(subjectDir).isDirectory()) continue;
    if (!SUBJECT_NAME.test(entry)) {
      throw new SchemaLoadError(subjectDir, 'subject folder names are lower-case topic names (letters, digits, . _ -)');
    }
    subjects.set(entry, loadSubject(dir, entry));
  }
  return subjects;
}

function loadSubject(root: string, subject: string): SchemaSubject {
  const subjectDir = join(root, subject);
  const versions: SchemaVersion[] = [];
  for (const name of readdirSync(subjectDir).sort()) {
    if (!name.endsWith('.avsc')) continue;
    const match = VERSION_FILE.exec(name);
    if (!match) throw new SchemaLoadError(join(subjectDir, name), 'schema files are named v<N>.avsc');
    versions.push(parseVersion(root, subject, Number(match[1]), join(subjectDir, name)));
  }
  versions.sort((a, b) => a.version - b.version);
  if (versions.length === 0) throw new SchemaLoadError(subjectDir, 'folder holds no v<N>.avsc file');
  versions.forEach((v, i) => {
    if (v.version !== i + 1) throw new SchemaLoadError(v.file, `versions must run v1..vN without gaps; expected v${i + 1}`);
  });
  checkEvolution(root, versions);
  return { name: subject, versions, latest: versions[versions.length - 1] };
}

function parseVersion(root: string, subject: string, version: number, file: string): SchemaVersion {
  const shown = relative(root, file);
  let schema: avro.Schema;
  try {
    schema = JSON.parse(readFileSync(file, 'utf8')) as avro.Schema;
  } catch (cause) {
    throw new SchemaLoadError(shown, 'not valid JSON', { cause });
  }
  let type: avro.Type;
  try {
    // Unions are always unwrapped, so a decoded value is plain data and the generated types say
    // exactly what avsc returns; an ambiguous union (two records, say) is rejected here instead of
    // silently changing shape. A fresh registry per file: avsc fills it with the file's named types.
    type = avro.Type.forSchema(schema, { wrapUnions: 'never', registry: {} });
  } catch (cause) {
    throw new SchemaLoadError(shown, `not a valid Avro schema: ${(cause as Error).message}`, { cause });
  }
  if (type.typeName !== 'record') throw new SchemaLoadError(shown, 'the top-level type of a topic must be a record');
  return {
    subject,
    version,
    id: `${subject}/v${version}`,
    file,
    schema,
    type,
    fingerprint: type.fingerprint('sha256').toString('hex'),
  };
}

// Full compatibility between every pair: consumers may be upgraded before or after producers,
// and a consumer pinned to an old version still reads what newer producers write.
function checkEvolution(root: string, versions: SchemaVersion[]): void {
  for (const a of versions) {
    for (const b of versions) {
      if (a === b) continue;
      if (a.fingerprint === b.fingerprint && a.version < b.version) {
        throw new SchemaLoadError(relative(root, b.file), `same canonical form as v${a.version}; a doc-only change is not a new version`);
      }
      try {
        b.type.createResolver(a.type);
      } catch (cause) {
        throw new SchemaLoadError(
          relative(root, b.file),
          `v${b.version} cannot read v${a.version} (${(cause as Error).message}); new fields need defaults, removed fields must have had one, a breaking change is a new topic`,
          { cause },
        );
      }
    }
  }
}
