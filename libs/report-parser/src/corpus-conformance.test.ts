import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { ReportError } from './errors';
import { parseReports, type Report } from './parse-report';
import { reportIdentity } from './report-identity';

/**
 * Conformance against real reports from real senders (parsedmarc's samples, read in place, never copied).
 * Totals are checked against an independent reading of the bytes written here with zlib and regular
 * expressions, not with the parser's own code.
 */
const CORPUS = path.resolve(__dirname, '../../../../shared/corpus/parsedmarc-samples');
const present = fs.existsSync(CORPUS);
if (!present) {
  console.warn(`corpus conformance SKIPPED: ${CORPUS} is absent; these tests prove nothing on this machine`);
}
const describeCorpus = present ? describe : describe.skip;

const file = (name: string): Buffer => fs.readFileSync(path.join(CORPUS, name));
const list = (dir: string): string[] => (present ? fs.readdirSync(path.join(CORPUS, dir)).map((f) => `${dir}/${f}`) : []);

// --- the independent reading -------------------------------------------------------------------------------

function gunzipAnyTrailer(gz: Buffer): Buffer {
  let at = 10;
  const flags = gz[3];
  if (flags & 4) at += 2 + gz.readUInt16LE(at);
  if (flags & 8) at = gz.indexOf(0, at) + 1;
  if (flags & 16) at = gz.indexOf(0, at) + 1;
  if (flags & 2) at += 2;
  return zlib.inflateRawSync(gz.subarray(at));
}

function unzipFirst(zip: Buffer): Buffer {
  const method = zip.readUInt16LE(8);
  const size = zip.readUInt32LE(18);
  const start = 30 + zip.readUInt16LE(26) + zip.readUInt16LE(28);
  const data = zip.subarray(start, start + size);
  return method === 0 ? data : zlib.inflateRawSync(data);
}

function decompress(bytes: Buffer): Buffer {
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) return gunzipAnyTrailer(bytes);
  if (bytes.subarray(0, 4).toString('latin1') === 'PK\x03\x04') return unzipFirst(bytes);
  return bytes;
}

/** The longest base64 block of an e-mail: its attachment. */
function attachmentOf(mail: Buffer): Buffer {
  const blocks = mail.toString('latin1').match(/(?:^[A-Za-z0-9+/=]{16,}\r?\n)+/gm) ?? [];
  const longest = blocks.reduce((a, b) => (b.length > a.length ? b : a), '');
  return Buffer.from(longest.replace(/\s/g, ''), 'base64');
}

function independentText(name: string): string {
  const bytes = file(name);
  return decompress(name.endsWith('.eml') ? attachmentOf(bytes) : bytes).toString('latin1');
}

function independentTotals(xml: string): { records: number; messages: number } {
  const counts = [...xml.matchAll(/<count>\s*(\d+)\s*<\/count>/g)].map((m) => Number(m[1]));
  return { records: (xml.match(/<record>/g) ?? []).length, messages: counts.reduce((a, b) => a + b, 0) };
}

// --- the tests ---------------------------------------------------------------------------------------------

async function parse(name: string): Promise<Report[]> {
  return parseReports(file(name), { filename: path.basename(name) });
}

async function refusal(name: string): Promise<ReportError> {
  return parse(name).then(
    () => {
      throw new Error(`${name} was accepted`);
    },
    (err: ReportError) => err,
  );
}

const INVALID = new Set(['aggregate/invalid_xml.xml']);

describeCorpus('corpus conformance (parsedmarc samples)', () => {
  const aggregates = [...list('aggregate'), ...list('aggregate_invalid'), ...list('extract_report')].filter((f) => !INVALID.has(f));

  it('finds the samples SOURCE.md lists', () => {
    expect(aggregates.length).toBeGreaterThanOrEqual(22);
    expect(list('failure')).toHaveLength(5);
    expect(list('smtp_tls')).toHaveLength(4);
  });

  it.each(aggregates)('%s: record count and message total match an independent reading', async (name) => {
    const reports = await parse(name);
    expect(reports).toHaveLength(1);
    const report = reports[0];
    if (report.kind !== 'aggregate') throw new Error(`${name} parsed as ${report.kind}`);
    const expected = independentTotals(independentText(name));
    expect(expected.records).toBeGreaterThan(0);
    expect({ records: report.records.length, messages: report.records.reduce((sum, r) => sum + r.count, 0) }).toEqual(expected);
    expect(report.reportId).not.toBe('');
    expect(report.policy.domain).not.toBe('');
    for (const record of report.records) {
      expect(['none', 'quarantine', 'reject', 'pass']).toContain(record.disposition);
      expect(['pass', 'fail']).toContain(record.dkimAligned);
      expect(['pass', 'fail']).toContain(record.spfAligned);
    }
  });

  it('refuses invalid_xml.xml as invalid XML, naming where', async () => {
    const err = await refusal('aggregate/invalid_xml.xml');
    expect(err.code).toBe('REPORT_XML_INVALID');
    expect(err.message).toBe('invalid character "@" in element name <bad-xml (line 5, column 10)');
  });

  it('refuses empty.xml as empty', async () => {
    expect((await refusal('empty.xml')).code).toBe('REPORT_EMPTY');
  });

  it('accepts invalid_utf_8.xml, replacing the bad byte and saying so', async () => {
    const [report] = await parse('aggregate/invalid_utf_8.xml');
    if (report.kind !== 'aggregate') throw new Error('not aggregate');
    expect(report.records[0].headerFrom).toBe('bad_byte\ufffd');
    expect(report.repairs).toContain('invalid UTF-8 byte 0x91 at byte 706 replaced by U+FFFD');
  });

  it('accepts the upper-cased sample with its words normalised and a repair note', async () => {
    const [report] = await parse('aggregate_invalid/report_with_upper_cased_pass.xml');
    if (report.kind !== 'aggregate') throw new Error('not aggregate');
    expect(report.orgName).toBe('example.com');
    expect(report.records[0]).toMatchObject({ disposition: 'none', dkimAligned: 'pass', spfAligned: 'pass' });
    expect(report.records[0].dkim[0]).toMatchObject({ result: 'pass', humanResult: 'verify result: all signatures verified' });
    expect(report.repairs.some((note) => note.startsWith('result words normalised to lower case'))).toBe(true);
  });

  it('notes the other real-world quirks: stray schema tag, stray text, Mimecast trailing bytes', async () => {
    const repairs = async (name: string): Promise<readonly string[]> => ((await parse(name))[0] as { repairs: readonly string[] }).repairs;
    expect(await repairs('aggregate/ikea.com!example.de!1538690400!1538776800.xml')).toEqual([
      'stray <xs:schema> element around the report ignored',
    ]);
    expect(await repairs('aggregate/example.net!example.com!1529366400!1529452799.xml')).toEqual([
      'stray text "11" in <policy_published> ignored',
    ]);
    expect((await repairs('aggregate/mimecast-weird-gzip.eml'))[0]).toMatch(/^bytes after the end of the gzip data in .*\.xml\.gz were ignored$/);
  });

  it('reads both RFC 9990 samples with their new fields', async () => {
    const [sample] = await parse('aggregate/rfc9990-sample.xml');
    const [example] = await parse('aggregate/rfc9990-example.net!example.com!1700000000!1700086399.xml');
    expect(sample).toMatchObject({
      format: 'rfc9990',
      generator: 'Example DMARC Aggregate Reporter v1.2',
      dateRange: { begin: '1979-08-07T00:00:00Z', end: '1979-08-07T23:59:59Z' },
      policy: { np: 'none', testing: 'n', discoveryMethod: 'treewalk', pct: null },
      records: [{ disposition: 'pass' }],
    });
    expect(example).toMatchObject({
      format: 'rfc9990',
      version: '2.0',
      policy: { np: 'reject', testing: 'y', discoveryMethod: 'treewalk' },
      records: [{ spf: [{ scope: 'mfrom' }] }, { reasons: [{ type: 'other', comment: 'sender not authorized' }] }],
    });
  });

  it('gives the same report the same identity through .xml, .xml.gz and .xml.zip, and another org another', async () => {
    const key = async (name: string): Promise<string> => reportIdentity((await parse(name))[0]);
    const nice = await key('extract_report/nice-input.xml');
    expect(await key('extract_report/nice-input.xml.gz')).toBe(nice);
    expect(await key('extract_report/nice-input.xml.zip')).toBe(nice);
    expect(await key('extract_report/changed-input.xml')).not.toBe(nice);
  });

  it.each(list('failure'))('%s: a failure report whose source IP matches the text', async (name) => {
    const reports = await parse(name);
    expect(reports).toHaveLength(1);
    const report = reports[0];
    if (report.kind !== 'forensic') throw new Error(`${name} parsed as ${report.kind}`);
    const raw = file(name).toString('latin1');
    const decoded = (raw.match(/(?:^[A-Za-z0-9+/=]{16,}\r?\n)+/gm) ?? []).map((b) => Buffer.from(b, 'base64').toString('latin1'));
    const text = [raw, ...decoded].join('\n');
    const ip = /(?:Source-IP|Sender IP Address):\s*(\S+)/.exec(text)?.[1];
    expect(ip).toBeDefined();
    expect(report.sourceIp).toBe(ip);
    expect(report.reportedDomain).not.toBeNull();
    // Netease leaves Auth-Failure out; the others say dmarc (Exim by its "DMARC Results" line).
    const authFailure = /Auth-Failure:\s*(\S+)/.exec(text)?.[1] ?? (/DMARC Results:/.test(text) ? 'dmarc' : undefined);
    expect(report.authFailure).toEqual(authFailure ? [authFailure.toLowerCase()] : []);
  });

  it('reads the CRLF and LF copies of the LinkedIn report the same', async () => {
    expect(await parse('failure/dmarc_ruf_report_linkedin.crlf.eml')).toEqual(await parse('failure/dmarc_ruf_report_linkedin.eml'));
  });

  it.each(list('smtp_tls'))('%s: TLS totals match the JSON read independently', async (name) => {
    const [report] = await parse(name);
    if (report.kind !== 'tls') throw new Error(`${name} parsed as ${report.kind}`);
    const json = JSON.parse(name.endsWith('.eml') ? gunzipAnyTrailer(attachmentOf(file(name))).toString() : file(name).toString()) as {
      'report-id': string;
      policies: Array<{ summary: Record<string, number>; 'failure-details'?: Array<{ 'failed-session-count': number }> }>;
    };
    expect(report.reportId).toBe(json['report-id']);
    expect(report.policies).toHaveLength(json.policies.length);
    const sum = (values: number[]): number => values.reduce((a, b) => a + b, 0);
    expect(sum(report.policies.map((p) => p.totalFailureSessionCount))).toBe(sum(json.policies.map((p) => p.summary['total-failure-session-count'])));
    expect(sum(report.policies.flatMap((p) => p.failureDetails.map((d) => d.failedSessionCount)))).toBe(
      sum(json.policies.flatMap((p) => (p['failure-details'] ?? []).map((d) => d['failed-session-count']))),
    );
  });
});
