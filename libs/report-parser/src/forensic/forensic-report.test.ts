import { parseReport } from '../parse-report';
import type { ForensicReport } from './forensic-report';

async function forensic(mail: string): Promise<ForensicReport> {
  const report = await parseReport(Buffer.from(mail.replace(/\n/g, '\r\n'), 'utf8'));
  if (report.kind !== 'forensic') throw new Error(`expected forensic, got ${report.kind}`);
  return report;
}

const ARF = `From: dmarc-reports@receiver.example
To: ruf@example.com
Subject: =?UTF-8?B?RE1BUkMgZmFpbHVyZSByZXBvcnQ=?=
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="arf"

--arf
Content-Type: text/plain; charset="US-ASCII"

This is an authentication failure report.

--arf
Content-Type: message/feedback-report

Feedback-Type: auth-failure
User-Agent: Example/2.0
Version: 1
Original-Mail-From: <bounce@example.com>
Original-Rcpt-To: <a@receiver.example>
Original-Rcpt-To: <b@receiver.example>
Arrival-Date: Tue, 30 Apr 2019 02:09:00 +0000
Reporting-MTA: dns; mx.receiver.example
Source-IP: 192.0.2.1
Incidents: 3
Authentication-Results: mx.receiver.example; dmarc=fail (p=reject) header.from=example.com;
  spf=fail smtp.mailfrom=example.com
Auth-Failure: dmarc
Identity-Alignment: dkim, spf
Delivery-Result: Reject
DKIM-Domain: example.com
DKIM-Selector: s1
SPF-DNS: txt : example.com : "v=spf1 -all"
Reported-Domain: Example.COM

--arf
Content-Type: text/rfc822-headers

From: "Caf=?utf-8?q?=C3=A9?=" <news@example.com>
To: a@receiver.example
Subject: =?utf-8?q?Caf=C3=A9_news?=
Message-ID: <abc@example.com>
Date: Tue, 30 Apr 2019 04:08:00 +0200

--arf--
`;

describe('failure reports', () => {
  it('reads an ARF report with the RFC 9991 fields and the original headers', async () => {
    expect(await forensic(ARF)).toEqual({
      kind: 'forensic',
      format: 'arf',
      feedbackType: 'auth-failure',
      userAgent: 'Example/2.0',
      version: '1',
      originalEnvelopeId: null,
      originalMailFrom: 'bounce@example.com',
      originalRcptTo: ['a@receiver.example', 'b@receiver.example'],
      arrivalDate: '2019-04-30T02:09:00Z',
      reportingMta: 'dns; mx.receiver.example',
      reportedDomain: 'example.com',
      sourceIp: '192.0.2.1',
      incidents: 3,
      authenticationResults: 'mx.receiver.example; dmarc=fail (p=reject) header.from=example.com; spf=fail smtp.mailfrom=example.com',
      identityAlignment: ['dkim', 'spf'],
      deliveryResult: 'reject',
      authFailure: ['dmarc'],
      dkimDomain: 'example.com',
      dkimIdentity: null,
      dkimSelector: 's1',
      spfDns: 'txt : example.com : "v=spf1 -all"',
      originalHeaders: {
        subject: 'Café news',
        from: '"Café" <news@example.com>',
        to: 'a@receiver.example',
        messageId: '<abc@example.com>',
        date: '2019-04-30T02:08:00Z',
      },
      repairs: [],
    });
  });

  it('reads RFC 9991 Identity-Alignment "none"', async () => {
    expect((await forensic(ARF.replace('Identity-Alignment: dkim, spf', 'Identity-Alignment: none'))).identityAlignment).toEqual(['none']);
  });

  it('reads ARF sent as multipart/mixed, with a base64 feedback part, noting the container', async () => {
    const fields = /Content-Type: message\/feedback-report\n\n([\s\S]*?)\n--arf/.exec(ARF)![1];
    const mail = ARF.replace('multipart/report; report-type=feedback-report', 'multipart/mixed').replace(
      `Content-Type: message/feedback-report\n\n${fields}`,
      `Content-Type: message/feedback-report\nContent-Transfer-Encoding: base64\n\n${Buffer.from(fields).toString('base64')}`,
    );
    const report = await forensic(mail);
    expect([report.sourceIp, report.identityAlignment]).toEqual(['192.0.2.1', ['dkim', 'spf']]);
    expect(report.repairs).toEqual(['feedback report sent as multipart/mixed instead of multipart/report']);
  });

  it('reads a plain-text failure report with no ARF part (Exim)', async () => {
    const mail = `From: no-reply@mx.example.net
To: dmarc@example.com
Subject: DMARC Forensic Report for example.com from IP 203.0.113.68
Content-Type: multipart/report; boundary="x"

--x
Content-Type: text/plain; charset="us-ascii"

A message claiming to be from you has failed the published DMARC policy for your domain.

  Sender Domain: example.com
  Sender IP Address: 203.0.113.68
  Received date: Mon, 07 Apr 2025 23:16:09 +0200
  SPF Alignment: no
  DKIM Alignment: yes
  DMARC Results: Reject, Reject

------ This is a copy of the headers that were received before the error was detected.

From: <user@example.com>
Subject: Payment
Message-Id: <1@example.com>
Authentication-Results: mx.example.net; dmarc=fail header.from=example.com

--x--
`;
    const report = await forensic(mail);
    expect(report).toMatchObject({
      format: 'text',
      reportedDomain: 'example.com',
      sourceIp: '203.0.113.68',
      arrivalDate: '2025-04-07T21:16:09Z',
      identityAlignment: ['dkim'],
      deliveryResult: 'reject',
      authFailure: ['dmarc'],
      authenticationResults: 'mx.example.net; dmarc=fail header.from=example.com',
      originalHeaders: { from: '<user@example.com>', subject: 'Payment', messageId: '<1@example.com>' },
    });
    expect(report.repairs[0]).toBe('no ARF (message/feedback-report) part: fields read from the plain-text body');
  });
});
