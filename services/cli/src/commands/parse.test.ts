import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { main } from '../main';

const XML = (id: string, counts: number[]) => `<?xml version="1.0"?><feedback><report_metadata><org_name>Org</org_name><email>a@b.c</email>
<report_id>${id}</report_id><date_range><begin>1700000000</begin><end>1700086399</end></date_range></report_metadata>
<policy_published><domain>example.com</domain><p>reject</p><pct>100</pct></policy_published>
${counts.map((c, i) => `<record><row><source_ip>192.0.2.${i + 1}</source_ip><count>${c}</count><policy_evaluated><disposition>none</disposition><dkim>pass</dkim><spf>fail</spf></policy_evaluated></row><identifiers><header_from>example.com</header_from></identifiers><auth_results><dkim><domain>example.com</domain><selector>s1</selector><result>pass</result></dkim><spf><domain>example.com</domain><scope>mfrom</scope><result>fail</result></spf></auth_results></record>`).join('')}</feedback>`;

function run(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const io = { env: {}, out: (l: string) => out.push(`${l}\n`), err: (l: string) => err.push(l), write: (c: string) => out.push(c) };
  return main(args, io).then((code) => ({ code, lines: out.join('').split('\n').filter(Boolean), err }));
}

describe('dmarc parse', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'dmarc-parse-'));
  const good = path.join(dir, 'r1.xml');
  const gz = path.join(dir, 'r2.xml.gz');
  const bad = path.join(dir, 'broken.xml');
  writeFileSync(good, XML('one', [3, 4]));
  writeFileSync(gz, gzipSync(XML('two', [5])));
  writeFileSync(bad, '<feedback><report_metadata>');

  it('prints one JSON object per report with the documented fields', async () => {
    const { code, lines, err } = await run(['parse', good, gz]);
    expect(code).toBe(0);
    expect(err).toEqual([]);
    const [a, b] = lines.map((l) => JSON.parse(l));
    expect(a).toMatchObject({
      kind: 'aggregate',
      file: good,
      reportId: 'one',
      orgName: 'Org',
      dateRange: { begin: '2023-11-14T22:13:20Z', end: '2023-11-15T22:13:19Z' },
      policy: { domain: 'example.com', p: 'reject', pct: 100 },
    });
    expect(a.records).toHaveLength(2);
    expect(a.records[0]).toMatchObject({
      sourceIp: '192.0.2.1',
      count: 3,
      disposition: 'none',
      dkimAligned: 'pass',
      spfAligned: 'fail',
      headerFrom: 'example.com',
      dkim: [{ domain: 'example.com', selector: 's1', result: 'pass' }],
      spf: [{ domain: 'example.com', scope: 'mfrom', result: 'fail' }],
    });
    expect(b).toMatchObject({ file: gz, reportId: 'two', records: [{ count: 5 }] });
  });

  it('reports a bad file on one line of stderr, still prints the others, and exits 1', async () => {
    const { code, lines, err } = await run(['parse', bad, good, path.join(dir, 'missing.xml')]);
    expect(code).toBe(1);
    expect(lines.map((l) => JSON.parse(l).reportId)).toEqual(['one']);
    expect(err).toHaveLength(2);
    expect(err[0]).toMatch(new RegExp(`^${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .+\\[REPORT_`));
    expect(err[1]).toMatch(/missing\.xml: no such file$/);
    for (const e of err) expect(e).not.toMatch(/\n|\bat \S+ \(/);
  });
});
