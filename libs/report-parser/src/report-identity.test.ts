import * as zlib from 'node:zlib';
import { parseReport, type Report } from './parse-report';
import { reportIdentity } from './report-identity';
import { aggregateXml, METADATA, POLICY } from './testing/aggregate-xml';
import { buildZip } from './testing/zip-builder';

const identity = async (bytes: Buffer): Promise<string> => {
  const report: Report = await parseReport(bytes);
  return reportIdentity(report);
};

describe('reportIdentity', () => {
  const xml = Buffer.from(aggregateXml());

  it('is the same for the same report whatever bytes it came in', async () => {
    const key = await identity(xml);
    expect(key).toBe('aggregate/example.com/google.com/12345678901234567890');
    const reformatted = Buffer.from(
      aggregateXml({
        metadata: METADATA.replace('<org_name>google.com', '<org_name> Google.COM '),
        policy: POLICY.replace('<domain>example.com', '<domain>EXAMPLE.com'),
      }).replace(/\n\s*/g, ''),
    );
    for (const bytes of [zlib.gzipSync(xml), buildZip([{ name: 'r.xml', data: xml }]), reformatted]) {
      expect(await identity(bytes)).toBe(key);
    }
  });

  it('differs for a different report id, organisation or domain, and keeps report ids case-sensitive', async () => {
    const key = await identity(xml);
    const variants = [
      aggregateXml({ metadata: METADATA.replace('12345678901234567890', '12345678901234567891') }),
      aggregateXml({ metadata: METADATA.replace('<org_name>google.com', '<org_name>yahoo.com') }),
      aggregateXml({ policy: POLICY.replace('<domain>example.com', '<domain>example.org') }),
    ];
    for (const variant of variants) expect(await identity(Buffer.from(variant))).not.toBe(key);
    const upper = aggregateXml({ metadata: METADATA.replace('12345678901234567890', 'AbC') });
    const lower = aggregateXml({ metadata: METADATA.replace('12345678901234567890', 'abc') });
    expect(await identity(Buffer.from(upper))).not.toBe(await identity(Buffer.from(lower)));
  });

  it('escapes its parts so one value cannot forge another key', async () => {
    const a = aggregateXml({ metadata: METADATA.replace('<org_name>google.com', '<org_name>a/b').replace('12345678901234567890', 'c') });
    const b = aggregateXml({ metadata: METADATA.replace('<org_name>google.com', '<org_name>a').replace('12345678901234567890', 'b/c') });
    expect(await identity(Buffer.from(a))).not.toBe(await identity(Buffer.from(b)));
  });
});
