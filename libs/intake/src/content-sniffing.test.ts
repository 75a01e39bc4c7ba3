import { gzipSync } from 'node:zlib';
import { describeHead, sniffReportContent } from './content-sniffing';

describe('sniffReportContent', () => {
  const utf16 = (s: string, bom: boolean, be = false) => {
    const le = Buffer.concat([bom ? Buffer.from([0xff, 0xfe]) : Buffer.alloc(0), Buffer.from(s, 'utf16le')]);
    return be ? Buffer.from(le).swap16() : le;
  };

  it.each([
    ['XML', Buffer.from('<?xml version="1.0"?><feedback/>'), 'xml'],
    ['XML after blank lines', Buffer.from('\r\n\n  <feedback/>'), 'xml'],
    ['XML after a UTF-8 BOM', Buffer.from('\ufeff<?xml version="1.0"?>'), 'xml'],
    ['UTF-16LE XML with a BOM', utf16('<?xml version="1.0"?>', true), 'xml'],
    ['UTF-16BE XML with a BOM', utf16('<?xml version="1.0"?>', true, true), 'xml'],
    ['UTF-16LE XML without a BOM', utf16('<feedback/>', false), 'xml'],
    ['gzip', gzipSync('<feedback/>'), 'gzip'],
    ['zip', Buffer.from('PK\x03\x04\x14\x00rest', 'latin1'), 'zip'],
    ['JSON (TLS report)', Buffer.from(' {"organization-name":"x"}'), 'json'],
    ['e-mail', Buffer.from('Received: from a by b\r\n\tid 1\r\nSubject: Report domain: example.com\r\n\r\nbody'), 'email'],
    ['mbox export', Buffer.from('From MAILER-DAEMON Mon Jan  1 00:00:00 2024\nFrom: a@b\nTo: c@d\n\nx'), 'email'],
    ['e-mail cut off by the sniff window', Buffer.from(`X-Long: ${'a'.repeat(2000)}`), 'email'],
    ['nothing', Buffer.alloc(0), 'empty'],
    ['whitespace', Buffer.from(' \r\n\t '), 'empty'],
    ['PDF', Buffer.from('%PDF-1.7\n'), 'unknown'],
    ['PNG', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), 'unknown'],
    ['an empty zip archive', Buffer.from('PK\x05\x06' + '\0'.repeat(18), 'latin1'), 'unknown'],
    ['prose', Buffer.from('hello world\nthis is not mail\n'), 'unknown'],
    ['a header line followed by prose', Buffer.from('Subject: hi\nnot a header\n\nbody'), 'unknown'],
    ['a JSON array', Buffer.from('[1,2]'), 'unknown'],
  ])('%s', (_what, bytes, kind) => {
    expect(sniffReportContent(bytes)).toBe(kind);
  });

  it('looks at a subarray without reading past it', () => {
    const backing = Buffer.from('xxxx<feedback/>');
    expect(sniffReportContent(backing.subarray(4))).toBe('xml');
  });

  it('describes the first bytes printably', () => {
    expect(describeHead(Buffer.from('%PDF-1.7\n\x00more'))).toBe('bytes 25 50 44 46 2d 31 2e 37 ("%PDF-1.7")');
    expect(describeHead(Buffer.from([0x89, 0x50]))).toBe('bytes 89 50 (".P")');
  });
});
