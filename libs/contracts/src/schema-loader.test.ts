import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SchemaLoadError } from './errors';
import { loadSchemaSubjects } from './schema-loader';
import { findSchemasDir } from './schemas-dir';

const record = (fields: object[], extra: object = {}) => ({ type: 'record', name: 'R', namespace: 'dmarc.t', fields, ...extra });
const id = { name: 'id', type: 'string' };

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'schemas-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function write(subject: string, file: string, content: unknown): void {
  mkdirSync(join(root, subject), { recursive: true });
  writeFileSync(join(root, subject, file), typeof content === 'string' ? content : JSON.stringify(content));
}

function loadError(): SchemaLoadError {
  try {
    loadSchemaSubjects(root);
  } catch (error) {
    expect(error).toBeInstanceOf(SchemaLoadError);
    expect(error).toMatchObject({ code: 'CONTRACT_SCHEMA_INVALID', retriable: false });
    return error as SchemaLoadError;
  }
  throw new Error('expected a SchemaLoadError');
}

describe('loadSchemaSubjects', () => {
  it('loads every schema of the repository, each fully compatible with its other versions', () => {
    const subjects = loadSchemaSubjects(findSchemasDir());
    expect([...subjects.keys()]).toEqual(expect.arrayContaining(['dmarc.reports.dlq', 'dmarc.reports.inbound', 'dmarc.reports.received']));
    for (const subject of subjects.values()) expect(subject.latest.id).toBe(`${subject.name}/v${subject.versions.length}`);
  });

  it('orders versions numerically (v10 after v9)', () => {
    let fields: object[] = [id];
    for (let v = 1; v <= 10; v++) {
      write('dmarc.t', `v${v}.avsc`, record(fields));
      fields = [...fields, { name: `f${v}`, type: 'int', default: v }];
    }
    expect(loadSchemaSubjects(root).get('dmarc.t')?.versions.map((s) => s.version)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('refuses a gap in the versions', () => {
    write('dmarc.t', 'v1.avsc', record([id]));
    write('dmarc.t', 'v3.avsc', record([id, { name: 'x', type: 'int', default: 0 }]));
    expect(loadError().message).toContain('expected v2');
  });

  it('refuses a new field without a default (old messages could not be read)', () => {
    write('dmarc.t', 'v1.avsc', record([id]));
    write('dmarc.t', 'v2.avsc', record([id, { name: 'x', type: 'int' }]));
    expect(loadError().message).toMatch(/v2 cannot read v1/);
  });

  it('refuses removing a field that had no default (old readers could not read new messages)', () => {
    write('dmarc.t', 'v1.avsc', record([id, { name: 'x', type: 'int' }]));
    write('dmarc.t', 'v2.avsc', record([id]));
    expect(loadError().message).toMatch(/v1 cannot read v2/);
  });

  it('refuses a doc-only change as a new version', () => {
    write('dmarc.t', 'v1.avsc', record([id]));
    write('dmarc.t', 'v2.avsc', record([id], { doc: 'now documented' }));
    expect(loadError().message).toContain('same canonical form');
  });

  it('refuses invalid JSON, invalid Avro, a non-record top level, ambiguous unions and badly named files', () => {
    const cases: Array<[string, unknown, RegExp]> = [
      ['v1.avsc', '{ nope', /not valid JSON/],
      ['v1.avsc', { type: 'record', name: 'R', fields: [{ name: 'a', type: 'uuid-ish' }] }, /not a valid Avro schema/],
      ['v1.avsc', { type: 'string' }, /must be a record/],
      [
        'v1.avsc',
        record([{ name: 'u', type: [{ type: 'record', name: 'A', fields: [] }, { type: 'record', name: 'B', fields: [] }] }]),
        /not a valid Avro schema/,
      ],
      ['version1.avsc', record([id]), /named v<N>\.avsc/],
    ];
    for (const [file, content, message] of cases) {
      rmSync(join(root, 'dmarc.t'), { recursive: true, force: true });
      write('dmarc.t', file, content);
      expect(loadError().message).toMatch(message);
    }
  });
});
