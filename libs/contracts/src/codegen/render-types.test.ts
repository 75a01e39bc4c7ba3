import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderContractTypes } from './render-types';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'gen-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function subject(name: string, versions: object[]): void {
  mkdirSync(join(root, name));
  versions.forEach((schema, i) => writeFileSync(join(root, name, `v${i + 1}.avsc`), JSON.stringify(schema)));
}

describe('renderContractTypes', () => {
  it('maps Avro types to what avsc returns', () => {
    subject('dmarc.alerts', [
      {
        type: 'record',
        name: 'Alert',
        namespace: 'dmarc.alerts',
        doc: 'An alert.',
        fields: [
          { name: 'kind', type: { type: 'enum', name: 'Kind', symbols: ['SPOOF', 'NEW_SENDER'] } },
          { name: 'ips', type: { type: 'array', items: 'string' } },
          { name: 'counts', type: { type: 'map', values: 'long' } },
          { name: 'hash', type: { type: 'fixed', name: 'Hash', size: 4 } },
          { name: 'again', type: 'Kind', doc: 'a reference to a named type' },
          { name: 'ratio', type: ['null', 'double'], default: null },
          { name: 'at', type: { type: 'long', logicalType: 'timestamp-millis' } },
        ],
      },
    ]);
    const out = renderContractTypes(root);
    expect(out).toContain(`export type KindV1 = 'SPOOF' | 'NEW_SENDER';`);
    expect(out).toContain('export type HashV1 = Buffer;');
    expect(out).toContain('  ips: Array<string>;');
    expect(out).toContain('  counts: Record<string, number>;');
    expect(out).toContain('  again: KindV1;');
    expect(out).toContain('  ratio: null | number;');
    expect(out).toContain('  /** (timestamp-millis) */\n  at: number;');
    expect(out).toContain(`export type AlertV1Input = WithDefaults<AlertV1, 'ratio'>;`);
    expect(out).toContain('export type Alert = AlertV1;');
    expect(out).toContain(`  'dmarc.alerts': Alert;`);
    expect(out).toContain(`  alerts: 'dmarc.alerts',`);
  });

  it('emits every version and aliases the latest', () => {
    const v1 = { type: 'record', name: 'Thing', fields: [{ name: 'a', type: 'int' }] };
    const v2 = { ...v1, fields: [...v1.fields, { name: 'b', type: 'string', default: '' }] };
    subject('dmarc.things', [v1, v2]);
    const out = renderContractTypes(root);
    expect(out).toContain('export interface ThingV1 {');
    expect(out).toContain('export interface ThingV2 {');
    expect(out).toContain('export type Thing = ThingV2;');
    expect(out).toContain('export type ThingInput = ThingV2Input;');
  });

  it('refuses two subjects declaring different records under one TypeScript name', () => {
    subject('dmarc.a', [{ type: 'record', name: 'Same', namespace: 'a', fields: [] }]);
    subject('dmarc.b', [{ type: 'record', name: 'Same', namespace: 'b', fields: [] }]);
    expect(() => renderContractTypes(root)).toThrow(/SameV1 is used by a.Same and b.Same/);
  });
});
