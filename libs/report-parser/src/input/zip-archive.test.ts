import * as zlib from 'node:zlib';
import { buildZip } from '../testing/zip-builder';
import { DecompressionBudget } from './decompression-budget';
import { listZipEntries, readZipEntry } from './zip-archive';

async function readAll(zip: Buffer, limit = 1 << 30): Promise<Record<string, string>> {
  const budget = new DecompressionBudget(limit);
  const files: Record<string, string> = {};
  for (const entry of listZipEntries(zip, 100, 'a.zip')) {
    const parts: Buffer[] = [];
    for await (const chunk of readZipEntry(zip, entry, budget, entry.name)) parts.push(chunk);
    files[entry.name] = Buffer.concat(parts).toString();
  }
  return files;
}

describe('zip archives', () => {
  it('reads every entry, deflated or stored, and skips directories and __MACOSX', async () => {
    const zip = buildZip([
      { name: 'reports/', data: Buffer.alloc(0), method: 0 },
      { name: 'reports/a.xml', data: Buffer.from('<a/>') },
      { name: 'b.xml', data: Buffer.from('<b/>'), method: 0 },
      { name: '__MACOSX/._a.xml', data: Buffer.from('junk') },
    ]);
    expect(await readAll(zip)).toEqual({ 'reports/a.xml': '<a/>', 'b.xml': '<b/>' });
  });

  it.each(['../evil.xml', 'a/../../evil.xml', '/etc/cron.d/evil', 'C:\\evil.xml', '..\\evil.xml'])(
    'refuses the whole archive when an entry is named %s',
    (name) => {
      const zip = buildZip([{ name: 'ok.xml', data: Buffer.from('<a/>') }, { name, data: Buffer.from('x') }]);
      expect(() => listZipEntries(zip, 100, 'a.zip')).toThrow(expect.objectContaining({ code: 'REPORT_ZIP_TRAVERSAL' }));
    },
  );

  it('refuses traversal hidden in the local header behind an innocent central name', () => {
    const zip = buildZip([{ name: 'ok.xml', localName: '../../evil.xml', data: Buffer.from('x') }]);
    expect(() => listZipEntries(zip, 100, 'a.zip')).toThrow(expect.objectContaining({ code: 'REPORT_ZIP_TRAVERSAL' }));
  });

  it('refuses encrypted entries, unknown methods, too many entries and non-zips', () => {
    const code = (run: () => unknown): string | undefined => {
      try {
        run();
      } catch (err) {
        return (err as { code?: string }).code;
      }
      return undefined;
    };
    expect(code(() => listZipEntries(buildZip([{ name: 'a', data: Buffer.from('x'), flags: 1 }]), 100, 'z'))).toBe('REPORT_ZIP_INVALID');
    expect(code(() => listZipEntries(buildZip([{ name: 'a', data: Buffer.from('x'), method: 12 }]), 100, 'z'))).toBe('REPORT_ZIP_INVALID');
    const many = buildZip(Array.from({ length: 5 }, (_, i) => ({ name: `${i}.xml`, data: Buffer.from('x') })));
    expect(code(() => listZipEntries(many, 4, 'z'))).toBe('REPORT_ZIP_INVALID');
    expect(code(() => listZipEntries(Buffer.from('PK\x03\x04 truncated'), 100, 'z'))).toBe('REPORT_ZIP_INVALID');
  });

  it('refuses an entry whose CRC does not match', async () => {
    const zip = buildZip([{ name: 'a.xml', data: Buffer.from('<a/>'), crc: 1234 }]);
    await expect(readAll(zip)).rejects.toMatchObject({ code: 'REPORT_DECOMPRESSION_FAILED' });
  });

  it('refuses a zip bomb once the decompressed total passes the limit', async () => {
    const zeros = Buffer.alloc(8 << 20);
    const entries = Array.from({ length: 4 }, (_, i) => ({ name: `bomb${i}.xml`, data: zeros }));
    const zip = buildZip(entries);
    expect(zip.length).toBeLessThan(100 * 1024);
    expect(zlib.crc32(zeros)).toBeGreaterThan(0);
    // Each entry alone is under the limit; together they pass it: the budget is for the whole input.
    await expect(readAll(zip, 20 << 20)).rejects.toMatchObject({ code: 'REPORT_DECOMPRESSION_LIMIT' });
  });
});
