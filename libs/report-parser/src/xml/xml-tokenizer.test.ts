import { ReportError } from '../errors';
import { XmlTokenizer, type XmlAttribute, type XmlTokenHandler } from './xml-tokenizer';

class Recorder implements XmlTokenHandler {
  readonly events: string[] = [];
  readonly notices: string[] = [];
  onOpen(name: string, attributes: readonly XmlAttribute[] | null): void {
    this.events.push(`<${name}${(attributes ?? []).map(([k, v]) => ` ${k}=${v}`).join('')}>`);
  }
  onClose(name: string): void {
    this.events.push(`</${name}>`);
  }
  onText(text: string): void {
    // Adjacent runs (split by a comment or a chunk edge) are one text for the reader.
    const last = this.events.length - 1;
    if (last >= 0 && this.events[last].startsWith('"')) this.events[last] = `${this.events[last].slice(0, -1)}${text}"`;
    else this.events.push(`"${text}"`);
  }
  onLeaf(name: string, text: string): void {
    this.onOpen(name, null);
    if (/\S/.test(text)) this.onText(text);
    this.onClose(name);
  }
  onNotice(kind: string): void {
    this.notices.push(kind);
  }
}

const LIMITS = { maxTextLength: 64 * 1024, maxDepth: 64 };

function tokenize(xml: string, chunkSize = xml.length, limits = LIMITS): Recorder {
  const recorder = new Recorder();
  const tokenizer = new XmlTokenizer(recorder, limits);
  for (let i = 0; i < xml.length; i += chunkSize) tokenizer.write(xml.slice(i, i + chunkSize));
  tokenizer.end();
  return recorder;
}

function failure(run: () => unknown): ReportError {
  try {
    run();
  } catch (err) {
    if (err instanceof ReportError) return err;
    throw err;
  }
  throw new Error('expected a ReportError');
}

describe('XmlTokenizer', () => {
  const sample =
    '<?xml version="1.0" encoding="UTF-8"?>\n<!-- made by hand -->\n<feedback xmlns="urn:x" a=\'1 > 0\'>\n' +
    '  <org_name>AT&amp;T &#x41;&#66; <![CDATA[<raw> & ]]></org_name>\n  <empty/>\n  <x:y k = "v"/>\n</feedback>\n';

  it('reports elements, attributes, text with entities and CDATA, skipping comments and the declaration', () => {
    expect(tokenize(sample).events).toEqual([
      '<feedback xmlns=urn:x a=1 > 0>',
      '<org_name>',
      '"AT&T AB <raw> & "',
      '</org_name>',
      '<empty>',
      '</empty>',
      '<x:y k=v>',
      '</x:y>',
      '</feedback>',
    ]);
  });

  it('gives the same events whatever the chunk boundaries', () => {
    const whole = tokenize(sample).events;
    for (const size of [1, 2, 3, 5, 7, 13]) expect(tokenize(sample, size).events).toEqual(whole);
  });

  it('names the line and column of a bad element name', () => {
    const err = failure(() => tokenize('<a>\n <email><bad-xml@bad-xml.net></email>\n</a>'));
    expect(err.code).toBe('REPORT_XML_INVALID');
    expect(err.reason).toBe('invalid character "@" in element name <bad-xml');
    expect([err.line, err.column]).toEqual([2, 9]);
  });

  it('refuses a closing tag that does not match', () => {
    const err = failure(() => tokenize('<a><b></a>'));
    expect(err.code).toBe('REPORT_XML_INVALID');
    expect(err.message).toContain('closing tag </a> does not match <b>');
  });

  it('says where a truncated document ends', () => {
    const err = failure(() => tokenize('<feedback><record><row>'));
    expect(err.code).toBe('REPORT_XML_TRUNCATED');
    expect(err.message).toContain('document ends inside <row>');
    expect(failure(() => tokenize('<feedback><rec')).code).toBe('REPORT_XML_TRUNCATED');
    expect(failure(() => tokenize('<?xml version="1.0"?>')).code).toBe('REPORT_XML_TRUNCATED');
  });

  it('refuses text outside the root element and a second root', () => {
    expect(failure(() => tokenize('junk<a/>')).code).toBe('REPORT_XML_INVALID');
    expect(failure(() => tokenize('<a/><b/>')).code).toBe('REPORT_XML_INVALID');
  });

  it('refuses nesting deeper than the limit', () => {
    const deep = '<a>'.repeat(70) + '</a>'.repeat(70);
    expect(failure(() => tokenize(deep)).code).toBe('REPORT_XML_TOO_DEEP');
  });

  describe('entities', () => {
    it('expands only the five predefined entities and character references', () => {
      expect(tokenize('<a>&lt;&gt;&amp;&quot;&apos;&#9731;&#x1F600;</a>').events[1]).toBe('"<>&"\'☃😀"');
    });

    it('refuses any other entity reference, never expanding it', () => {
      const err = failure(() => tokenize('<a>&xxe;</a>'));
      expect(err.code).toBe('REPORT_XML_ENTITY_REFUSED');
      expect(err.message).toContain('&xxe;');
      expect(failure(() => tokenize('<a>&constructor;</a>')).code).toBe('REPORT_XML_ENTITY_REFUSED');
    });

    it('refuses character references to characters XML forbids', () => {
      expect(failure(() => tokenize('<a>&#0;</a>')).code).toBe('REPORT_XML_INVALID');
      expect(failure(() => tokenize('<a>&#xD800;</a>')).code).toBe('REPORT_XML_INVALID');
    });

    it('keeps a bare "&" as text and says so', () => {
      const recorder = tokenize('<org>AT&T & co</org>');
      expect(recorder.events[1]).toBe('"AT&T & co"');
      expect(recorder.notices).toContain('bare-ampersand');
    });
  });

  describe('DOCTYPE (XXE, entity bombs)', () => {
    it('refuses an external entity declaration without resolving it', () => {
      const xxe = '<?xml version="1.0"?>\n<!DOCTYPE feedback [\n <!ENTITY xxe SYSTEM "file:///etc/passwd">\n]>\n<feedback>&xxe;</feedback>';
      const err = failure(() => tokenize(xxe));
      expect(err.code).toBe('REPORT_XML_ENTITY_REFUSED');
      expect(err.line).toBe(3);
    });

    it('refuses a billion-laughs bomb at once, before expanding anything', () => {
      const lol = ['<!ENTITY lol "lol">'];
      for (let i = 1; i <= 9; i++) lol.push(`<!ENTITY lol${i} "${`&lol${i === 1 ? '' : i - 1};`.repeat(10)}">`);
      const bomb = `<?xml version="1.0"?>\n<!DOCTYPE lolz [\n${lol.join('\n')}\n]>\n<lolz>&lol9;</lolz>`;
      const started = process.hrtime.bigint();
      const err = failure(() => tokenize(bomb));
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      expect(err.code).toBe('REPORT_XML_ENTITY_REFUSED');
      expect(ms).toBeLessThan(50);
    });

    it('refuses the entity declaration even while the DTD is still arriving', () => {
      const tokenizer = new XmlTokenizer(new Recorder(), LIMITS);
      expect(() => tokenizer.write('<!DOCTYPE x [ <!ENTITY a "')).toThrow(expect.objectContaining({ code: 'REPORT_XML_ENTITY_REFUSED' }));
    });

    it('ignores a DOCTYPE without entities, never fetching its external DTD', () => {
      const recorder = tokenize('<!DOCTYPE feedback SYSTEM "http://attacker.example/evil.dtd">\n<feedback/>');
      expect(recorder.events).toEqual(['<feedback>', '</feedback>']);
      expect(recorder.notices).toEqual(['doctype']);
    });
  });

  describe('oversized text', () => {
    it('refuses a text node longer than the limit as soon as it passes it, before it ends', () => {
      const tokenizer = new XmlTokenizer(new Recorder(), LIMITS);
      tokenizer.write('<feedback><org_name>');
      const chunk = 'a'.repeat(16 * 1024);
      let writes = 0;
      const err = failure(() => {
        for (; writes < 1000; writes++) tokenizer.write(chunk);
      });
      expect(err.code).toBe('REPORT_TEXT_TOO_LONG');
      expect(err.message).toContain('text in <org_name> is longer than 65536 characters');
      expect(writes).toBeLessThanOrEqual(4);
    });

    it('refuses an endless tag, comment or DTD the same way', () => {
      const limits = { maxTextLength: 1000, maxDepth: 64 };
      for (const start of ['<a b="', '<!-- ', '<!DOCTYPE a [ ']) {
        const tokenizer = new XmlTokenizer(new Recorder(), limits);
        expect(() => {
          tokenizer.write(start);
          for (let i = 0; i < 10; i++) tokenizer.write('x'.repeat(500));
        }).toThrow(expect.objectContaining({ code: 'REPORT_TEXT_TOO_LONG' }));
      }
    });
  });

  it('stops reporting after stop()', () => {
    const recorder = new Recorder();
    const tokenizer = new XmlTokenizer(recorder, LIMITS);
    tokenizer.write('<a></a>');
    tokenizer.stop();
    tokenizer.write('garbage < that is not xml');
    tokenizer.end();
    expect(recorder.events).toEqual(['<a>', '</a>']);
  });
});
