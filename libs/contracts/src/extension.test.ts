import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Contracts } from './contracts';
import { EncodeError, SchemaLoadError } from './errors';
import { CONTRACT_HEADERS } from './headers';
import { TOPICS } from './topic-names';

// The evolving fixture subject (v1: id, tenantId, count; v2 adds label with a default) and subjects that do or do
// not start with its fields, written to a folder of their own.
const from = 'dmarc.test.evolution';
const head = [
  { name: 'id', type: 'string' },
  { name: 'tenantId', type: 'string' },
  { name: 'count', type: 'int' },
  { name: 'label', type: 'string', default: 'unlabelled' },
];
const subjects: Record<string, unknown[]> = {
  'dmarc.test.extended': [
    ...head,
    { name: 'names', type: { type: 'array', items: { type: 'record', name: 'Name', fields: [{ name: 'ip', type: 'string' }, { name: 'ptr', type: ['null', 'string'], default: null }] } } },
    { name: 'note', type: 'string', default: 'none' },
  ],
  'dmarc.test.same': head,
  'dmarc.test.widened': [head[0], head[1], { name: 'count', type: 'long' }, head[3], { name: 'more', type: 'int' }],
  'dmarc.test.renamed': [head[0], { name: 'tenant', type: 'string' }, head[2], head[3], { name: 'more', type: 'int' }],
};

let dir: string;
let contracts: Contracts;
let v1Writer: Contracts;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'extension-'));
  cpSync(join(__dirname, '__fixtures__/schemas', from), join(dir, from), { recursive: true });
  for (const [subject, fields] of Object.entries(subjects)) {
    mkdirSync(join(dir, subject));
    writeFileSync(join(dir, subject, 'v1.avsc'), JSON.stringify({ type: 'record', name: 'R', namespace: subject, fields }));
  }
  contracts = Contracts.load({ schemasDir: dir });
  v1Writer = Contracts.load({ schemasDir: dir, pinnedVersions: { [from]: 1 } });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A value of `from` as a consumer of it gets it. */
function read(writer: Contracts, value: Record<string, unknown>) {
  const encoded = writer.encode(from, value);
  const decoded = contracts.decode(from, encoded.value, encoded.headers);
  return { raw: encoded.value, writer: decoded.writer, value: decoded.value };
}

describe('ValueExtension', () => {
  it('writes the bytes read followed by the added fields, a value of the longer schema', () => {
    const extension = contracts.extension(from, 'dmarc.test.extended');
    expect(extension.addedFields).toEqual(['names', 'note']);
    const input = read(contracts, { id: 'a', tenantId: 't', count: 3, label: 'x' });
    const encoded = extension.encode(input, { names: [{ ip: '192.0.2.1', ptr: 'mx.example.com' }], note: 'hi' });
    expect(encoded.value.subarray(0, input.raw.length).equals(input.raw)).toBe(true);
    expect(encoded.headers[CONTRACT_HEADERS.schema]).toBe('dmarc.test.extended/v1');
    expect(contracts.decode('dmarc.test.extended', encoded.value, encoded.headers).value).toEqual({
      id: 'a',
      tenantId: 't',
      count: 3,
      label: 'x',
      names: [{ ip: '192.0.2.1', ptr: 'mx.example.com' }],
      note: 'hi',
    });
  });

  it('re-encodes bytes written with an older version in the current one, defaults filled', () => {
    const input = read(v1Writer, { id: 'b', tenantId: 't', count: 1 });
    expect(input.writer).toBe(`${from}/v1`);
    const encoded = contracts.extension(from, 'dmarc.test.extended').encode(input, { names: [] });
    expect(contracts.decode('dmarc.test.extended', encoded.value, encoded.headers).value).toEqual({
      id: 'b',
      tenantId: 't',
      count: 1,
      label: 'unlabelled',
      names: [],
      note: 'none',
    });
  });

  it('refuses an added field that does not match its type, or has no value and no default, naming it', () => {
    const extension = contracts.extension(from, 'dmarc.test.extended');
    const input = read(contracts, { id: 'c', tenantId: 't', count: 1, label: 'y' });
    expect(() => extension.encode(input, { names: [{ ip: 7 }] })).toThrow(EncodeError);
    expect(() => extension.encode(input, { names: [{ ip: 7 }] })).toThrow(/invalid field\(s\) names/);
    expect(() => extension.encode(input, {})).toThrow(/invalid field\(s\) names/);
  });

  it('refuses schemas that do not start with the fields of the other, saying where', () => {
    expect(() => contracts.extension(from, 'dmarc.test.same')).toThrow(SchemaLoadError);
    expect(() => contracts.extension(from, 'dmarc.test.same')).toThrow(/at least one more/);
    expect(() => contracts.extension(from, 'dmarc.test.widened')).toThrow(/count is long, not int/);
    expect(() => contracts.extension(from, 'dmarc.test.renamed')).toThrow(/field 1 is tenant, not tenantId/);
  });
});

describe('the repository schemas', () => {
  const repo = Contracts.load();
  it('dmarc.reports.enriched is dmarc.reports.parsed followed by sources and dns', () => {
    expect(repo.extension(TOPICS.parsed, TOPICS.enriched).addedFields).toEqual(['sources', 'dns']);
  });
});
