import * as avro from 'avsc';
import { avroBytes } from './avro-bytes';

describe('avroBytes', () => {
  const type = avro.Type.forSchema({ type: 'record', name: 'R', fields: [{ name: 'id', type: 'string' }, { name: 'items', type: { type: 'array', items: 'string' } }] });
  const value = (n: number) => ({ id: 'x', items: Array.from({ length: n }, (_, i) => `item-${i}`) });

  it.each([0, 10, 200, 20_000, 200_000])('gives the bytes toBuffer gives, with %i items (small, past 1 KiB, past the scratch buffer)', (n) => {
    const bytes = avroBytes(type, value(n));
    expect(bytes.equals(type.toBuffer(value(n)))).toBe(true);
    expect(type.fromBuffer(bytes)).toEqual(value(n));
  });

  it('returns a copy: encoding another value does not change bytes already returned', () => {
    const first = avroBytes(type, value(50));
    const copy = Buffer.from(first);
    avroBytes(type, value(60));
    expect(first.equals(copy)).toBe(true);
  });

  it('refuses a value that does not match the schema, as toBuffer does', () => {
    expect(() => avroBytes(type, { id: 7, items: [] })).toThrow();
  });
});
