import * as zlib from 'node:zlib';
import { ReportError } from '../errors';
import { parseReport } from '../parse-report';
import type { TlsReport } from './tls-report';

const RFC8460 = {
  'organization-name': 'Company-X',
  'date-range': { 'start-datetime': '2016-04-01T00:00:00Z', 'end-datetime': '2016-04-01T23:59:59Z' },
  'contact-info': 'sts-reporting@company-x.example',
  'report-id': '5065427c-23d3-47ca-b6e0-946ea0e8c4be',
  policies: [
    {
      policy: {
        'policy-type': 'sts',
        'policy-string': ['version: STSv1', 'mode: testing', 'mx: *.mail.company-y.example', 'max_age: 86400'],
        'policy-domain': 'company-y.example',
        'mx-host': '*.mail.company-y.example',
      },
      summary: { 'total-successful-session-count': 5326, 'total-failure-session-count': 303 },
      'failure-details': [
        { 'result-type': 'certificate-expired', 'sending-mta-ip': '2001:db8:abcd:0012::1', 'receiving-mx-hostname': 'mx1.mail.company-y.example', 'failed-session-count': 100 },
        { 'result-type': 'validation-failure', 'sending-mta-ip': '198.51.100.62', 'receiving-ip': '203.0.113.58', 'receiving-mx-hostname': 'mx-backup.mail.company-y.example', 'failed-session-count': 3, 'failure-reason-code': 'X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED' },
      ],
    },
  ],
};

async function tls(doc: unknown, gzip = false): Promise<TlsReport> {
  const bytes = Buffer.from(JSON.stringify(doc));
  const report = await parseReport(gzip ? zlib.gzipSync(bytes) : bytes);
  if (report.kind !== 'tls') throw new Error(`expected tls, got ${report.kind}`);
  return report;
}

async function refusal(doc: unknown): Promise<ReportError> {
  return tls(doc).then(
    () => {
      throw new Error('expected a refusal');
    },
    (err: ReportError) => err,
  );
}

describe('SMTP TLS reports', () => {
  it('normalises the RFC 8460 example, gzipped', async () => {
    const report = await tls(RFC8460, true);
    expect(report).toMatchObject({
      kind: 'tls',
      organizationName: 'Company-X',
      dateRange: { begin: '2016-04-01T00:00:00Z', end: '2016-04-01T23:59:59Z' },
      contactInfo: 'sts-reporting@company-x.example',
      reportId: '5065427c-23d3-47ca-b6e0-946ea0e8c4be',
      repairs: [],
    });
    expect(report.policies[0]).toMatchObject({
      policyType: 'sts',
      policyDomain: 'company-y.example',
      mxHost: ['*.mail.company-y.example'],
      totalSuccessfulSessionCount: 5326,
      totalFailureSessionCount: 303,
    });
    expect(report.policies[0].failureDetails[1]).toEqual({
      resultType: 'validation-failure',
      sendingMtaIp: '198.51.100.62',
      receivingMxHostname: 'mx-backup.mail.company-y.example',
      receivingMxHelo: null,
      receivingIp: '203.0.113.58',
      failedSessionCount: 3,
      additionalInformation: null,
      failureReasonCode: 'X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED',
    });
  });

  it('refuses missing and mistyped fields by name', async () => {
    expect(await refusal({ ...RFC8460, 'report-id': undefined })).toMatchObject({ code: 'REPORT_FIELD_MISSING', field: 'report-id' });
    const noSummary = { ...RFC8460, policies: [{ policy: RFC8460.policies[0].policy }] };
    expect(await refusal(noSummary)).toMatchObject({ code: 'REPORT_FIELD_MISSING', field: 'policies[0].summary' });
    const badCount = { ...RFC8460, policies: [{ ...RFC8460.policies[0], summary: { 'total-successful-session-count': 'many', 'total-failure-session-count': 0 } }] };
    expect(await refusal(badCount)).toMatchObject({ code: 'REPORT_FIELD_INVALID' });
  });

  it('refuses JSON that does not parse, and JSON that is not a TLS report, with different codes', async () => {
    await expect(parseReport(Buffer.from('{"policies": ['))).rejects.toMatchObject({ code: 'REPORT_JSON_INVALID' });
    await expect(parseReport(Buffer.from('{"hello": "world"}'))).rejects.toMatchObject({ code: 'REPORT_UNSUPPORTED_CONTENT' });
  });
});
