import { RepairLog } from '../repair-log';
import { XmlTextDecoder } from './xml-text-decoder';

function decode(bytes: Buffer, chunkSize = bytes.length): { text: string; repairs: string[] } {
  const repairs = new RepairLog();
  const decoder = new XmlTextDecoder(repairs);
  let text = '';
  for (let i = 0; i < bytes.length; i += chunkSize) text += decoder.decode(bytes.subarray(i, i + chunkSize));
  text += decoder.end();
  return { text, repairs: repairs.list() };
}

const declared = (encoding: string, body: Buffer): Buffer =>
  Buffer.concat([Buffer.from(`<?xml version="1.0" encoding="${encoding}"?><a>`), body, Buffer.from('</a>')]);

describe('XmlTextDecoder', () => {
  it('reads UTF-8 split anywhere inside a character', () => {
    const bytes = Buffer.from('<a>café ☃ 😀 naïve</a>'.repeat(200));
    for (const size of [1, 2, 3, 5, 1000]) expect(decode(bytes, size)).toEqual({ text: bytes.toString('utf8'), repairs: [] });
  });

  it('removes a UTF-8 byte order mark and says so', () => {
    const { text, repairs } = decode(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('<a/>')]));
    expect(text).toBe('<a/>');
    expect(repairs).toEqual(['UTF-8 byte order mark removed']);
  });

  it('decodes the encoding the declaration names (windows-1252, ISO-8859-1)', () => {
    expect(decode(declared('windows-1252', Buffer.from([0x93, 0x41, 0x94, 0x80]))).text).toContain('<a>\u201cA\u201d\u20ac</a>');
    const latin = decode(declared('ISO-8859-1', Buffer.from([0x4d, 0xfc, 0x6c, 0x6c, 0x65, 0x72])), 7);
    expect(latin.text).toContain('<a>Müller</a>');
    expect(latin.repairs).toEqual(['decoded from the declared encoding ISO-8859-1']);
  });

  it('replaces invalid UTF-8 bytes with U+FFFD and notes the first one', () => {
    const { text, repairs } = decode(declared('UTF-8', Buffer.from([0x62, 0x61, 0x64, 0x91])));
    expect(text).toContain('<a>bad\ufffd</a>');
    expect(repairs).toEqual(['invalid UTF-8 byte 0x91 at byte 44 replaced by U+FFFD']);
  });

  it('reads UTF-16 with a byte order mark', () => {
    const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('<a>é</a>', 'utf16le')]);
    expect(decode(le, 3).text).toBe('<a>é</a>');
  });

  it('reads 8-bit bytes declared as UTF-16 as UTF-8, with a note', () => {
    const { text, repairs } = decode(declared('UTF-16', Buffer.from('x')));
    expect(text).toContain('<a>x</a>');
    expect(repairs[0]).toContain('declared encoding UTF-16 does not match');
  });

  it('refuses an encoding it cannot decode', () => {
    expect(() => decode(declared('x-klingon', Buffer.from('x')))).toThrow(
      expect.objectContaining({ code: 'REPORT_ENCODING_UNSUPPORTED' }),
    );
  });
});
