import v8 from 'node:v8';
import vm from 'node:vm';
import { Readable } from 'node:stream';
import { ReportError } from '../errors';
import { parseReport } from '../parse-report';
import { streamReports, type ReportEvent } from '../report-stream';
import { aggregateXml, METADATA, POLICY, recordXml } from '../testing/aggregate-xml';
import type { AggregateReport } from './aggregate-report';

async function aggregate(xml: string | Buffer): Promise<AggregateReport> {
  const report = await parseReport(Buffer.isBuffer(xml) ? xml : Buffer.from(xml));
  if (report.kind !== 'aggregate') throw new Error(`expected an aggregate report, got ${report.kind}`);
  return report;
}

async function refusal(xml: string | Buffer): Promise<ReportError> {
  try {
    await aggregate(xml);
  } catch (err) {
    if (err instanceof ReportError) return err;
    throw err;
  }
  throw new Error('expected the report to be refused');
}

describe('aggregate reports', () => {
  it('normalises an RFC 7489 report', async () => {
    const report = await aggregate(
      aggregateXml({
        records: [
          recordXml(0, {
            evaluated:
              '<disposition>quarantine</disposition><dkim>fail</dkim><spf>pass</spf>' +
              '<reason><type>forwarded</type><comment>list</comment></reason><reason><type>sampled_out</type></reason>',
          }),
        ],
      }),
    );
    expect(report).toEqual({
      kind: 'aggregate',
      version: '1.0',
      format: 'rfc7489',
      orgName: 'google.com',
      email: 'noreply-dmarc-support@google.com',
      extraContactInfo: 'https://support.google.com/a/answer/2466580',
      reportId: '12345678901234567890',
      dateRange: { begin: '2023-11-14T22:13:20Z', end: '2023-11-15T22:13:19Z' },
      errors: [],
      generator: null,
      policy: {
        domain: 'example.com', p: 'none', sp: 'none', np: null, pct: 100, adkim: 'r', aspf: 'r', fo: '0',
        testing: null, discoveryMethod: null,
      },
      records: [
        {
          sourceIp: '192.0.2.0',
          count: 1,
          disposition: 'quarantine',
          dkimAligned: 'fail',
          spfAligned: 'pass',
          reasons: [{ type: 'forwarded', comment: 'list' }, { type: 'sampled_out', comment: null }],
          headerFrom: 'example.com',
          envelopeFrom: 'bounce.example.com',
          envelopeTo: null,
          dkim: [{ domain: 'example.com', selector: 's1', result: 'pass', humanResult: null }],
          spf: [{ domain: 'bounce.example.com', scope: 'mfrom', result: 'fail', humanResult: null }],
        },
      ],
      repairs: [],
    });
  });

  it('reads the pre-RFC draft format (no <version>)', async () => {
    const report = await aggregate(aggregateXml({ version: '' }));
    expect([report.format, report.version]).toEqual(['draft', 'draft']);
  });

  describe('RFC 9990', () => {
    const rfc9990 = (parts: Parameters<typeof aggregateXml>[0]): Promise<AggregateReport> => aggregate(aggregateXml(parts));

    it('reads the dmarc-2.0 namespace as a default namespace', async () => {
      const report = await rfc9990({ feedbackAttributes: ' xmlns="urn:ietf:params:xml:ns:dmarc-2.0"' });
      expect(report.format).toBe('rfc9990');
      expect(report.records).toHaveLength(1);
    });

    it('reads the dmarc-2.0 namespace bound to a prefix', async () => {
      const xml = aggregateXml({ feedbackAttributes: ' xmlns:d="urn:ietf:params:xml:ns:dmarc-2.0"' }).replace(
        /<(\/?)([a-z_]+)([ >])/g,
        '<$1d:$2$3',
      );
      const report = await aggregate(xml);
      expect([report.format, report.reportId, report.records[0].count]).toEqual(['rfc9990', '12345678901234567890', 1]);
    });

    it('reads a namespace-less report with version 2.0', async () => {
      expect((await rfc9990({ version: '<version>2.0</version>' })).format).toBe('rfc9990');
    });

    it('reads np, testing and discovery_method, and pct is absent', async () => {
      const policy = '<policy_published><domain>Example.COM</domain><p>reject</p><sp>quarantine</sp><np>reject</np>' +
        '<testing>y</testing><discovery_method>treewalk</discovery_method></policy_published>';
      const report = await rfc9990({ policy });
      expect(report.policy).toEqual({
        domain: 'example.com', p: 'reject', sp: 'quarantine', np: 'reject', pct: null, adkim: null, aspf: null, fo: null,
        testing: 'y', discoveryMethod: 'treewalk',
      });
      expect(report.format).toBe('rfc9990');
    });

    it('reads the generator', async () => {
      const metadata = METADATA.replace('</date_range>', '</date_range><generator>Example Reporter v1.2</generator>');
      expect((await rfc9990({ metadata })).generator).toBe('Example Reporter v1.2');
    });

    it('reads "pass" as a disposition', async () => {
      const report = await rfc9990({ records: [recordXml(0, { evaluated: '<disposition>pass</disposition><dkim>pass</dkim><spf>pass</spf>' })] });
      expect(report.records[0].disposition).toBe('pass');
    });

    it('reads the new override reason policy_test_mode', async () => {
      const evaluated = '<disposition>none</disposition><dkim>fail</dkim><spf>fail</spf><reason><type>policy_test_mode</type></reason>';
      const report = await rfc9990({ records: [recordXml(0, { evaluated })] });
      expect(report.records[0].reasons).toEqual([{ type: 'policy_test_mode', comment: null }]);
      expect(report.repairs).toEqual([]);
    });

    it('reads an SPF human_result and a DKIM selector', async () => {
      const auth = '<dkim><domain>example.com</domain><selector>sel</selector><result>pass</result><human_result>ok</human_result></dkim>' +
        '<spf><domain>example.com</domain><scope>mfrom</scope><result>pass</result><human_result>spf ok</human_result></spf>';
      const report = await rfc9990({ records: [recordXml(0, { auth })] });
      expect(report.records[0].spf[0].humanResult).toBe('spf ok');
      expect(report.records[0].dkim[0].selector).toBe('sel');
    });

    it('ignores extension elements safely: <extensions>, foreign namespaces, unknown elements in records', async () => {
      const xml = aggregateXml({
        feedbackAttributes: ' xmlns="urn:ietf:params:xml:ns:dmarc-2.0" xmlns:ext="urn:example:ext"',
        records: [recordXml(0, { extra: '<ext:score><count>999</count></ext:score>' })],
        trailer: '',
      }).replace('</feedback>', '<extensions><ext:any><record><count>5</count></record></ext:any></extensions></feedback>');
      const report = await aggregate(xml);
      expect(report.records).toHaveLength(1);
      expect(report.records[0].count).toBe(1);
      expect(report.repairs).toEqual([]);
    });
  });

  describe('real-world malformations, accepted with a note', () => {
    it('a BOM and no newline after the declaration', async () => {
      const xml = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(aggregateXml({ declaration: '<?xml version="1.0"?>' }))]);
      const report = await aggregate(xml);
      expect(report.records).toHaveLength(1);
      expect(report.repairs).toEqual(['UTF-8 byte order mark removed']);
    });

    it('a stray schema tag wrapped around the report, never closed', async () => {
      const xml = aggregateXml({
        declaration: '<?xml version="1.0"?> <xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="http://dmarc.org/dmarc-xml/0.1">\n',
      });
      const report = await aggregate(xml);
      expect(report.records).toHaveLength(1);
      expect(report.repairs).toEqual(['stray <xs:schema> element around the report ignored']);
    });

    it('extra elements and stray text', async () => {
      const policy = POLICY.replace('<fo>0</fo>', '<fo>0</fo><rua>mailto:x@example.com</rua>11');
      const report = await aggregate(aggregateXml({ policy }));
      expect(report.policy.fo).toBe('0');
      expect(report.repairs).toEqual([
        'unknown element <rua> in <policy_published> ignored',
        'stray text "11" in <policy_published> ignored',
      ]);
    });

    it('odd whitespace and wrong-case result words', async () => {
      const evaluated = '<disposition> None\t</disposition><dkim>Pass</dkim><spf>\n FAIL </spf>';
      const auth = '<dkim><domain> example.com </domain><result>Pass</result></dkim><spf><domain>example.com</domain><result>SoftFail</result></spf>';
      const metadata = METADATA.replace('<org_name>google.com</org_name>', '<org_name>\n  Google Inc.  </org_name>');
      const report = await aggregate(aggregateXml({ metadata, records: [recordXml(0, { evaluated, auth })] }));
      expect(report.orgName).toBe('Google Inc.');
      expect(report.records[0]).toMatchObject({
        disposition: 'none',
        dkimAligned: 'pass',
        spfAligned: 'fail',
        dkim: [{ domain: 'example.com', result: 'pass', selector: null }],
        spf: [{ result: 'softfail', scope: null }],
      });
      expect(report.repairs).toEqual(['result words normalised to lower case ("Pass" in record 1 auth_results/dkim/result) (5 times)']);
    });

    it('a windows-1252 declared encoding', async () => {
      const xml = Buffer.from(
        aggregateXml({ declaration: '<?xml version="1.0" encoding="windows-1252"?>\n' }).replace('google.com</org_name>', 'Caf\u00e9 Mail</org_name>'),
        'latin1',
      );
      const report = await aggregate(xml);
      expect(report.orgName).toBe('Café Mail');
      expect(report.repairs).toEqual(['decoded from the declared encoding windows-1252']);
    });

    it('invalid UTF-8 in a UTF-8 file', async () => {
      const xml = Buffer.from(aggregateXml().replace('<header_from>example.com', '<header_from>bad\u0091'), 'latin1');
      const report = await aggregate(xml);
      expect(report.records[0].headerFrom).toBe('bad\ufffd');
      expect(report.repairs[0]).toMatch(/^invalid UTF-8 byte 0x91 at byte \d+ replaced by U\+FFFD$/);
    });

    it('missing optional fields', async () => {
      const metadata = '<report_metadata><org_name>x</org_name><report_id>1</report_id><date_range><begin>0</begin><end>1</end></date_range></report_metadata>';
      const policy = '<policy_published><domain>example.com</domain></policy_published>';
      const record = '<record><row><source_ip>2001:db8::1</source_ip><count>2</count><policy_evaluated><disposition>none</disposition>' +
        '<dkim>fail</dkim><spf>fail</spf></policy_evaluated></row><identifiers><header_from>example.com</header_from></identifiers></record>';
      const report = await aggregate(aggregateXml({ metadata, policy, records: [record] }));
      expect(report).toMatchObject({ email: null, extraContactInfo: null, policy: { p: null, pct: null } });
      expect(report.records[0]).toMatchObject({ envelopeFrom: null, dkim: [], spf: [], reasons: [] });
      expect(report.repairs).toEqual([]);
    });

    it('an unescaped "&" in a name', async () => {
      const metadata = METADATA.replace('<org_name>google.com', '<org_name>AT&T');
      const report = await aggregate(aggregateXml({ metadata }));
      expect(report.orgName).toBe('AT&T');
      expect(report.repairs).toEqual(['unescaped "&" kept as text']);
    });

    it('an empty reason, milliseconds for seconds', async () => {
      const metadata = METADATA.replace('<begin>1700000000</begin>', '<begin>1700000000000</begin>');
      const evaluated = '<disposition>none</disposition><dkim>pass</dkim><spf>fail</spf><reason><type></type><comment></comment></reason>';
      const report = await aggregate(aggregateXml({ metadata, records: [recordXml(0, { evaluated })] }));
      expect(report.dateRange.begin).toBe('2023-11-14T22:13:20Z');
      expect(report.records[0].reasons).toEqual([]);
      expect(report.repairs).toHaveLength(2);
    });
  });

  describe('refusals name the field and the place', () => {
    it('a missing report_id', async () => {
      const err = await refusal(aggregateXml({ metadata: METADATA.replace(/<report_id>.*<\/report_id>/, '') }));
      expect([err.code, err.field]).toEqual(['REPORT_FIELD_MISSING', 'report_metadata/report_id']);
    });

    it('a missing policy domain', async () => {
      const err = await refusal(aggregateXml({ policy: '<policy_published><p>none</p></policy_published>' }));
      expect([err.code, err.field]).toEqual(['REPORT_FIELD_MISSING', 'policy_published/domain']);
    });

    it('a count that is not a number, with its line', async () => {
      const err = await refusal(aggregateXml({ records: [recordXml(0), recordXml(1).replace('<count>2</count>', '<count>two</count>')] }));
      expect(err.code).toBe('REPORT_FIELD_INVALID');
      expect(err.field).toBe('record[2]/row/count');
      expect(err.message).toMatch(/^record 2: <count> "two" is not a whole number \(line \d+, column \d+\)$/);
    });

    it('a missing count, an unknown disposition, a bad date', async () => {
      expect((await refusal(aggregateXml({ records: [recordXml(0).replace('<count>1</count>', '')] }))).code).toBe('REPORT_FIELD_MISSING');
      const evaluated = '<disposition>drop</disposition><dkim>pass</dkim><spf>fail</spf>';
      expect((await refusal(aggregateXml({ records: [recordXml(0, { evaluated })] }))).code).toBe('REPORT_FIELD_INVALID');
      expect((await refusal(aggregateXml({ metadata: METADATA.replace('1700086399', 'tomorrow') }))).field).toBe(
        'report_metadata/date_range/end',
      );
    });

    it('XML that is not an aggregate report', async () => {
      const err = await refusal('<html><body>hello</body></html>');
      expect(err.code).toBe('REPORT_XML_NOT_AGGREGATE');
      expect(err.message).toContain('its root is <html>');
    });

    it('a truncated report', async () => {
      const xml = aggregateXml({ records: [recordXml(0), recordXml(1)] });
      const err = await refusal(xml.slice(0, xml.lastIndexOf('<count>')));
      expect(err.code).toBe('REPORT_XML_TRUNCATED');
      expect(err.message).toContain('document ends inside <row>');
    });
  });

  describe('streaming', () => {
    it('sends the header first, then records in batches of the configured size, then the summary', async () => {
      const records = Array.from({ length: 25 }, (_, i) => recordXml(i));
      const events: ReportEvent[] = [];
      for await (const event of streamReports(Buffer.from(aggregateXml({ records })), { recordBatchSize: 10 })) events.push(event);
      expect(events.map((e) => (e.type === 'records' ? e.records.length : e.type))).toEqual(['header', 10, 10, 5, 'end']);
      const end = events[4];
      expect(end.type === 'end' && end.summary).toEqual({ recordCount: 25, messageCount: (25 * 26) / 2, repairs: [] });
    });

    it('refuses an oversized element as it streams in, without reading the rest', async () => {
      let pulled = 0;
      const endless = Readable.from(
        (function* () {
          yield Buffer.from(`<feedback><version>1.0</version><report_metadata><org_name>`);
          for (;;) {
            pulled++;
            yield Buffer.alloc(16 * 1024, 0x61);
          }
        })(),
      );
      const read = async (): Promise<void> => {
        for await (const _event of streamReports(endless)) void _event;
      };
      await expect(read()).rejects.toMatchObject({ code: 'REPORT_TEXT_TOO_LONG' });
      // The first chunks go to peek and the 1 KiB encoding sniff; a handful more and the 64 KiB limit is passed.
      expect(pulled).toBeLessThan(10);
      expect(endless.destroyed).toBe(true);
    });

    it('streams a large report with memory bounded by the batch, not the report', async () => {
      const total = 200_000;
      const head = aggregateXml({ records: [], trailer: '' }).replace('</feedback>', '');
      const source = Readable.from(
        (function* () {
          yield Buffer.from(head);
          for (let i = 0; i < total; i += 1000) {
            yield Buffer.from(Array.from({ length: 1000 }, (_, j) => recordXml(i + j)).join('\n'));
          }
          yield Buffer.from('</feedback>');
        })(),
      );
      // Retained memory, not the momentary heap: garbage not yet collected depends on the machine's load
      // and says nothing about what the parser holds. A full collection every few batches measures what
      // is still reachable while the report streams.
      v8.setFlagsFromString('--expose-gc');
      const gc = vm.runInNewContext('gc') as () => void;
      gc();
      const before = process.memoryUsage().heapUsed;
      let peakRetained = 0;
      let records = 0;
      let batches = 0;
      for await (const event of streamReports(source)) {
        if (event.type !== 'records') continue;
        records += event.records.length;
        if (++batches % 20 === 0) {
          gc();
          peakRetained = Math.max(peakRetained, process.memoryUsage().heapUsed - before);
        }
      }
      expect(records).toBe(total);
      // ~120 MB of XML and 200,000 records (well over 150 MB as objects) went through; what stays reachable is
      // a batch and the parser's buffers, never the report.
      expect(peakRetained).toBeLessThan(24 << 20);
    });
  });
});
