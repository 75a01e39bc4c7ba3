import { decodeHeaderText, parseContentType } from './mime-headers';
import { parseMimeMessage } from './mime-part';

describe('MIME', () => {
  it('walks nested multiparts, decoding base64 and quoted-printable bodies', () => {
    const message = Buffer.from(
      [
        'Subject: =?ISO-8859-1?Q?Rapport_f=E9vrier?= =?UTF-8?B?IOKYgw==?=',
        'Content-Type: multipart/mixed; boundary=outer',
        '',
        'preamble',
        '--outer',
        'Content-Type: multipart/alternative; boundary="inner"',
        '',
        '--inner',
        'Content-Type: text/plain; charset=utf-8',
        'Content-Transfer-Encoding: quoted-printable',
        '',
        'caf=C3=A9 au =',
        'lait',
        '--inner--',
        '--outer',
        'Content-Type: application/octet-stream',
        "Content-Disposition: attachment; filename*=UTF-8''rapport%20%C3%A9t%C3%A9.zip",
        'Content-Transfer-Encoding: base64',
        '',
        Buffer.from('zip bytes').toString('base64'),
        '--outer--',
        'epilogue',
      ].join('\r\n'),
    );
    const root = parseMimeMessage(message);
    expect(root.headers.text('subject')).toBe('Rapport février ☃');
    expect(root.children.map((c) => c.type)).toEqual(['multipart/alternative', 'application/octet-stream']);
    expect(root.children[0].children[0].text()).toBe('café au lait');
    expect(root.children[1].filename).toBe('rapport été.zip');
    expect(root.children[1].body().toString()).toBe('zip bytes');
  });

  it('tolerates a missing close delimiter and a boundary that prefixes another', () => {
    const root = parseMimeMessage(Buffer.from('Content-Type: multipart/mixed; boundary=b\n\n--b\n\none\n--b2\nstill one\n--b\n\ntwo'));
    expect(root.children.map((c) => c.body().toString())).toEqual(['one\n--b2\nstill one', 'two']);
  });

  it('parses content types with quoted and continued parameters', () => {
    expect(parseContentType('Application/GZIP; name="a;b.gz"; x=1')).toEqual({ type: 'application/gzip', params: { name: 'a;b.gz', x: '1' } });
    expect(parseContentType('application/zip; name*0="google.com!ex"; name*1="ample.com.zip"').params.name).toBe('google.com!example.com.zip');
    expect(parseContentType(undefined).type).toBe('text/plain');
    expect(decodeHeaderText('=?utf-8?b?' + Buffer.from('Zürich').toString('base64') + '?=')).toBe('Zürich');
  });
});
