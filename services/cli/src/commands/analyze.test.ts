import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { main } from '../main';

const xml = (id: string, domain: string, rows: Array<[string, number, 'pass' | 'fail', 'pass' | 'fail', string]>) =>
  `<?xml version="1.0"?><feedback><report_metadata><org_name>Org ${id}</org_name><email>a@b.c</email><report_id>${id}</report_id>` +
  `<date_range><begin>1700000000</begin><end>1700086399</end></date_range></report_metadata>` +
  `<policy_published><domain>${domain}</domain><p>reject</p></policy_published>` +
  rows
    .map(
      ([ip, count, dkim, spf, disposition]) =>
        `<record><row><source_ip>${ip}</source_ip><count>${count}</count><policy_evaluated><disposition>${disposition}</disposition><dkim>${dkim}</dkim><spf>${spf}</spf></policy_evaluated></row><identifiers><header_from>${domain}</header_from></identifiers><auth_results><spf><domain>${domain}</domain><result>${spf}</result></spf></auth_results></record>`,
    )
    .join('') +
  `</feedback>`;

function run(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const progress: string[] = [];
  const io = { env: {}, out: (l: string) => out.push(l), err: (l: string) => err.push(l), write: (c: string) => out.push(c), progress: (l: string) => progress.push(l) };
  return main(args, io).then((code) => ({ code, out, err, progress }));
}

// PGlite starts and migrates in a second or two; on a loaded 2-core machine that alone can pass jest's 5 s.
jest.setTimeout(30_000);

describe('dmarc analyze (embedded: in-process bus, PGlite)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'dmarc-analyze-'));
  mkdirSync(path.join(dir, 'nested'));
  const a = xml('a-1', 'example.com', [['192.0.2.1', 10, 'pass', 'pass', 'none'], ['198.51.100.7', 5, 'fail', 'fail', 'reject']]);
  writeFileSync(path.join(dir, 'a.xml'), a);
  writeFileSync(path.join(dir, 'nested', 'a-again.xml.gz'), gzipSync(a)); // same report, other bytes
  copyFileSync(path.join(dir, 'a.xml'), path.join(dir, 'nested', 'a-copy.xml')); // same bytes
  writeFileSync(path.join(dir, 'b.xml'), xml('b-1', 'example.org', [['203.0.113.9', 4, 'pass', 'fail', 'none']]));
  writeFileSync(path.join(dir, 'c.xml'), xml('c-1', 'example.com', [['192.0.2.1', 1, 'fail', 'pass', 'quarantine']]));
  writeFileSync(path.join(dir, 'broken.xml'), '<feedback><report_metadata>');

  it('counts every report once per domain, names the failures, and exits 1 when a file failed', async () => {
    const { code, out, err, progress } = await run(['analyze', '--json', dir]);
    expect(code).toBe(1);
    const result = JSON.parse(out.join(''));
    expect(result.domains).toEqual([
      expect.objectContaining({ domain: 'example.com', reports: 2, messages: 16, dmarcPass: 11, dkimAligned: 10, spfAligned: 11, quarantined: 1, rejected: 5, topSource: { ip: '192.0.2.1', messages: 11 } }),
      expect.objectContaining({ domain: 'example.org', reports: 1, messages: 4, dmarcPass: 4, dkimAligned: 4, spfAligned: 0 }),
    ]);
    const status = Object.fromEntries(result.files.map((f: { file: string; status: string }) => [path.relative(dir, f.file), f.status]));
    expect(status).toEqual({
      'a.xml': 'aggregated',
      'b.xml': 'aggregated',
      'broken.xml': 'failed',
      'c.xml': 'aggregated',
      'nested/a-again.xml.gz': 'duplicate',
      'nested/a-copy.xml': 'duplicate',
    });
    expect(err).toHaveLength(1);
    expect(err[0]).toMatch(/broken\.xml: REPORT_XML_\w+: /);
    expect(progress.length).toBeGreaterThan(0);
  });

  it('prints a table and exits 0 when every file was read', async () => {
    const clean = mkdtempSync(path.join(tmpdir(), 'dmarc-analyze-'));
    writeFileSync(path.join(clean, 'b.xml'), xml('b-1', 'example.org', [['203.0.113.9', 4, 'pass', 'fail', 'none']]));
    const { code, out } = await run(['analyze', clean]);
    expect(code).toBe(0);
    expect(out[0]).toMatch(/^domain\s+reports\s+messages\s+DMARC pass/);
    expect(out[2]).toMatch(/^example\.org\s+1\s+4\s+100\.0%/);
    expect(out.at(-1)).toBe('1 files: 1 aggregated, 0 parsed (failure/TLS reports), 0 duplicates, 0 failed');
  });

  it('refuses a missing directory with one line', async () => {
    const { code, err } = await run(['analyze', path.join(dir, 'nope')]);
    expect(code).toBe(66);
    expect(err).toEqual([expect.stringMatching(/nope: no such file or directory$/)]);
  });
});
