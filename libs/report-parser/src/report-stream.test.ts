import { Readable } from 'node:stream';
import * as zlib from 'node:zlib';
import { ReportError } from './errors';
import { parseReport, parseReports, type Report } from './parse-report';
import { streamReports } from './report-stream';
import { aggregateXml, recordXml } from './testing/aggregate-xml';
import { buildZip } from './testing/zip-builder';

const xml = Buffer.from(aggregateXml());

/** A MIME message: `parts` are [headers, body] pairs; none means a single-part message with `body`. */
function email(headers: string, body: string): Buffer {
  return Buffer.from(`From: reports@example.net\r\nTo: dmarc@example.com\r\nSubject: Report\r\n${headers}\r\n\r\n${body}`, 'latin1');
}

function multipart(type: string, parts: Array<[string, string]>): Buffer {
  const boundary = '==b0undary==';
  const body = parts.map(([headers, content]) => `--${boundary}\r\n${headers}\r\n\r\n${content}\r\n`).join('') + `--${boundary}--\r\n`;
  return email(`MIME-Version: 1.0\r\nContent-Type: ${type}; boundary="${boundary}"`, `This is a MIME message.\r\n${body}`);
}

const base64 = (bytes: Buffer): string => bytes.toString('base64').replace(/.{76}/g, '$&\r\n');

async function codeOf(input: Buffer, options = {}): Promise<string> {
  try {
    await parseReports(input, options);
  } catch (err) {
    if (err instanceof ReportError) return err.code;
    throw err;
  }
  return 'accepted';
}

function aggregateOf(report: Report): Extract<Report, { kind: 'aggregate' }> {
  if (report.kind !== 'aggregate') throw new Error(`expected aggregate, got ${report.kind}`);
  return report;
}

describe('input detection', () => {
  it('refuses an empty input and a whitespace-only one as empty', async () => {
    expect(await codeOf(Buffer.alloc(0))).toBe('REPORT_EMPTY');
    expect(await codeOf(Buffer.from(' \r\n\t'))).toBe('REPORT_EMPTY');
  });

  it('refuses content that is no report format, saying what it starts with', async () => {
    const err = await parseReports(Buffer.from('%PDF-1.7 binary'), { filename: 'report.pdf' }).catch((e: ReportError) => e);
    expect(err).toMatchObject({ code: 'REPORT_UNSUPPORTED_CONTENT', retriable: false });
    expect((err as ReportError).message).toBe(
      'content is not XML, JSON, gzip, zip or an e-mail: it starts with bytes 25 50 44 46 ("%PDF-1.7") (declared report.pdf)',
    );
  });

  it('decides by the bytes: gzip named .xml, XML named .xml.gz (noted)', async () => {
    expect(aggregateOf(await parseReport(zlib.gzipSync(xml), { filename: 'r.xml' })).records).toHaveLength(1);
    const plain = aggregateOf(await parseReport(xml, { filename: 'r.xml.gz', contentType: 'application/gzip' }));
    expect(plain.repairs).toEqual(['declared as gzip (r.xml.gz, application/gzip) but the bytes are xml; read as xml']);
  });

  it('reads a stream as well as a buffer', async () => {
    const report = await parseReport(Readable.from([zlib.gzipSync(xml).subarray(0, 10), zlib.gzipSync(xml).subarray(10)]));
    expect(aggregateOf(report).records).toHaveLength(1);
  });

  it('reads gzip inside zip inside an e-mail, naming the documents', async () => {
    const zip = buildZip([{ name: 'inner.xml.gz', data: zlib.gzipSync(xml), method: 0 }]);
    const mail = multipart('multipart/mixed', [['Content-Type: application/zip; name="r.zip"\r\nContent-Transfer-Encoding: base64', base64(zip)]]);
    const events = [];
    for await (const event of streamReports(mail, { filename: 'm.eml' })) events.push(event);
    expect(events[0]).toMatchObject({ type: 'header', document: 'm.eml > r.zip > inner.xml.gz' });
  });

  it('refuses containers nested past the limit', async () => {
    let nested: Buffer = xml;
    for (let i = 0; i < 7; i++) nested = zlib.gzipSync(nested);
    expect(await codeOf(nested)).toBe('accepted');
    for (let i = 0; i < 7; i++) nested = buildZip([{ name: `l${i}.zip`, data: nested, method: 0 }]);
    expect(await codeOf(nested)).toBe('REPORT_UNSUPPORTED_CONTENT');
  });

  it('reads every report of a zip with several entries, and names the failing entry', async () => {
    const zip = buildZip([
      { name: 'a.xml', data: xml },
      { name: 'b.xml', data: Buffer.from(aggregateXml().replace('12345678901234567890', 'second')) },
    ]);
    expect((await parseReports(zip)).map((r) => aggregateOf(r).reportId)).toEqual(['12345678901234567890', 'second']);
    const broken = buildZip([{ name: 'a.xml', data: xml }, { name: 'b.xml', data: Buffer.from('<feedback><report') }]);
    await expect(parseReports(broken)).rejects.toMatchObject({ code: 'REPORT_XML_TRUNCATED', document: 'b.xml' });
  });

  it('refuses a zip with a traversal entry and a gzip bomb, by code', async () => {
    expect(await codeOf(buildZip([{ name: '../../etc/passwd', data: xml }]))).toBe('REPORT_ZIP_TRAVERSAL');
    const bomb = zlib.gzipSync(Buffer.from(`<feedback>${'<x/>'.repeat(2 << 20)}</feedback>`));
    expect(await codeOf(bomb, { maxDecompressedBytes: 1 << 20 })).toBe('REPORT_DECOMPRESSION_LIMIT');
  });

  it('refuses XXE and entity bombs in a whole report, by code, without touching the file system', async () => {
    const xxe = aggregateXml({ declaration: '<?xml version="1.0"?>\n<!DOCTYPE feedback [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n' })
      .replace('google.com</org_name>', '&xxe;</org_name>');
    expect(await codeOf(Buffer.from(xxe))).toBe('REPORT_XML_ENTITY_REFUSED');
    const lol = Array.from({ length: 9 }, (_, i) => `<!ENTITY l${i + 1} "${`&l${i};`.repeat(10)}">`).join('');
    const bomb = `<?xml version="1.0"?><!DOCTYPE feedback [<!ENTITY l0 "lol">${lol}]><feedback>&l9;</feedback>`;
    expect(await codeOf(zlib.gzipSync(Buffer.from(bomb)))).toBe('REPORT_XML_ENTITY_REFUSED');
  });

  it('holds zips and e-mails in memory only up to the limit', async () => {
    const zip = buildZip([{ name: 'a.xml', data: xml }]);
    expect(await codeOf(zip, { maxBufferedBytes: 100 })).toBe('REPORT_TOO_LARGE');
  });

  it('stops reading the input when the caller stops early', async () => {
    const head = aggregateXml({ records: [], trailer: '' }).replace('</feedback>', '');
    const endless = Readable.from(
      (function* () {
        yield Buffer.from(head);
        for (let i = 0; ; i++) yield Buffer.from(recordXml(i));
      })(),
    );
    const seen: string[] = [];
    for await (const event of streamReports(endless, { recordBatchSize: 5 })) {
      seen.push(event.type);
      if (event.type === 'records') break;
    }
    expect(seen).toEqual(['header', 'records']);
    expect(endless.destroyed).toBe(true);
  });
});

describe('small gzip held in memory (inflated in one synchronous call)', () => {
  const records = Array.from({ length: 20 }, (_, i) => recordXml(i));
  const report = Buffer.from(aggregateXml({ records }));

  /** Every event, or the error's code, reason and document: the same whichever path inflated the input. */
  async function outcome(input: Buffer | Readable, options = {}): Promise<unknown> {
    const events: unknown[] = [];
    try {
      for await (const event of streamReports(input, { filename: 'r.xml.gz', ...options })) events.push(event);
    } catch (err) {
      if (!(err instanceof ReportError)) throw err;
      return { events, code: err.code, reason: err.reason, document: err.document };
    }
    return { events };
  }
  // A stream is never held whole, so it always takes the streamed path.
  const streamed = (bytes: Buffer, options = {}) => outcome(Readable.from([bytes.subarray(0, 7), bytes.subarray(7)]), options);

  it.each([
    ['one member', zlib.gzipSync(report)],
    ['junk after the data (Mimecast CRLF), noted', Buffer.concat([zlib.gzipSync(report), Buffer.from('\r\n')])],
    ['two members', Buffer.concat([zlib.gzipSync(report.subarray(0, 500)), zlib.gzipSync(report.subarray(500))])],
    ['gzip inside a deflated zip entry', buildZip([{ name: 'r.xml.gz', data: zlib.gzipSync(report) }])],
  ])('gives the same report as the streamed path: %s', async (_, bytes) => {
    const fast = await outcome(bytes);
    expect(fast).toEqual(await streamed(bytes));
    expect((fast as { events: unknown[] }).events.length).toBeGreaterThan(2);
  });

  it('fails a truncated or corrupt gzip exactly as the streamed path does', async () => {
    const gz = zlib.gzipSync(report);
    const corrupt = Buffer.from(gz);
    corrupt.fill(0xff, 40, 60);
    for (const bytes of [gz.subarray(0, gz.length - 30), corrupt]) {
      const fast = await outcome(bytes);
      expect(fast).toMatchObject({ code: expect.stringMatching(/^REPORT_/) });
      expect(fast).toEqual(await streamed(bytes));
    }
  });

  it('still refuses a small gzip bomb at the limit, and reads past the synchronous cap by streaming', async () => {
    // About 21 MiB of XML in a few dozen KiB: past the 16 MiB the synchronous call may produce.
    const big = Buffer.from(aggregateXml({ records: Array.from({ length: 40_000 }, () => recordXml(1)) }));
    expect(big.length).toBeGreaterThan(18 << 20);
    const bomb = zlib.gzipSync(big, { level: 9 });
    expect(bomb.length).toBeLessThan(256 * 1024);
    for (const limit of [1 << 20, 18 << 20]) {
      expect(await outcome(bomb, { maxDecompressedBytes: limit })).toMatchObject({ code: 'REPORT_DECOMPRESSION_LIMIT' });
    }
    let read = 0;
    for await (const event of streamReports(bomb, { maxDecompressedBytes: 32 << 20 })) if (event.type === 'records') read += event.records.length;
    expect(read).toBe(40_000);
  });
});

describe('e-mails', () => {
  it('multipart/report with a base64 gzip attachment', async () => {
    const mail = multipart('multipart/report; report-type=dmarc', [
      ['Content-Type: text/plain', 'A DMARC report.'],
      ['Content-Type: application/gzip\r\nContent-Disposition: attachment; filename="r.xml.gz"\r\nContent-Transfer-Encoding: base64', base64(zlib.gzipSync(xml))],
    ]);
    expect(aggregateOf(await parseReport(mail)).records).toHaveLength(1);
  });

  it('multipart/mixed with a zip named only .zip, an HTML body and a logo', async () => {
    const mail = multipart('multipart/mixed', [
      ['Content-Type: text/html', '<html><body>Your report</body></html>'],
      ['Content-Type: image/png; name=logo.png\r\nContent-Transfer-Encoding: base64', base64(Buffer.from('\x89PNG\r\n\x1a\n....'))],
      ['Content-Type: application/octet-stream;\r\n\tname="google.com!example.com!1!2.zip"\r\nContent-Transfer-Encoding: base64', base64(buildZip([{ name: 'r.xml', data: xml }]))],
    ]);
    expect(aggregateOf(await parseReport(mail)).reportId).toBe('12345678901234567890');
  });

  it('a single-part body that is base64 gzip (Mimecast), with CRLF after the gzip data', async () => {
    const gz = Buffer.concat([zlib.gzipSync(xml), Buffer.from('\r\n')]);
    const mail = email('Content-Type: application/gzip\r\nContent-Transfer-Encoding: base64', base64(gz));
    const report = aggregateOf(await parseReport(mail));
    expect(report.records).toHaveLength(1);
    expect(report.repairs).toEqual(['bytes after the end of the gzip data in part 1 (application/gzip) were ignored']);
  });

  it('a quoted-printable XML attachment', async () => {
    const qp = aggregateXml().replace(/=/g, '=3D').replace(/\n/g, '=\n\n');
    const mail = multipart('multipart/mixed', [['Content-Type: text/xml; name="r.xml"\r\nContent-Transfer-Encoding: quoted-printable', qp]]);
    expect(aggregateOf(await parseReport(mail)).records).toHaveLength(1);
  });

  it('a "gzip" attachment that is plain XML (uncompressed where gzip was expected)', async () => {
    const mail = multipart('multipart/report', [
      ['Content-Type: application/gzip; name="r.xml.gz"\r\nContent-Transfer-Encoding: base64', base64(xml)],
    ]);
    const report = aggregateOf(await parseReport(mail));
    expect(report.repairs).toEqual(['declared as gzip (r.xml.gz, application/gzip) but the bytes are xml; read as xml']);
  });

  it('an attachment declared as a report whose bytes are nothing of the kind', async () => {
    const mail = multipart('multipart/report', [
      ['Content-Type: application/gzip; name="r.xml.gz"\r\nContent-Transfer-Encoding: base64', base64(Buffer.from('garbage bytes'))],
    ]);
    await expect(parseReport(mail, { filename: 'm.eml' })).rejects.toMatchObject({
      code: 'REPORT_UNSUPPORTED_CONTENT',
      document: 'r.xml.gz',
    });
  });

  it('an e-mail with no report in it', async () => {
    expect(await codeOf(email('Content-Type: text/plain', 'Hello, how are you?'))).toBe('REPORT_EMAIL_NO_REPORT');
  });

  it('a forwarded report e-mail', async () => {
    const inner = multipart('multipart/mixed', [['Content-Type: application/zip; name="r.zip"\r\nContent-Transfer-Encoding: base64', base64(buildZip([{ name: 'r.xml', data: xml }]))]]);
    const outer = multipart('multipart/mixed', [['Content-Type: text/plain', 'FYI'], ['Content-Type: message/rfc822', inner.toString('latin1')]]);
    expect(aggregateOf(await parseReport(outer)).records).toHaveLength(1);
  });

  it('parseReport refuses an input holding several reports', async () => {
    const mail = multipart('multipart/mixed', [
      ['Content-Type: text/xml; name="a.xml"', xml.toString()],
      ['Content-Type: text/xml; name="b.xml"', xml.toString()],
    ]);
    expect(await parseReports(mail)).toHaveLength(2);
    await expect(parseReport(mail)).rejects.toMatchObject({ code: 'REPORT_MULTIPLE' });
  });
});
