import { ReportError, type ReportErrorCode } from '../errors';

export type XmlAttribute = readonly [name: string, value: string];

/** What the tokenizer reports, in document order. Names are qualified (`xs:schema`), as written. */
export interface XmlTokenHandler {
  onOpen(name: string, attributes: readonly XmlAttribute[] | null): void;
  onClose(name: string): void;
  /** Character data between tags (entities resolved, CDATA included); whitespace-only runs are not reported. */
  onText(text: string): void;
  /**
   * A whole element with only text in it (`<count>12</count>`): the same as onOpen, onText, onClose, in one
   * call. The text is as written (entities resolved), whitespace included, possibly empty.
   */
  onLeaf(name: string, text: string): void;
  /** Something tolerated that the report should mention (an ignored DOCTYPE, a bare `&`). */
  onNotice(kind: string, text: string): void;
}

export interface XmlTokenizerLimits {
  readonly maxTextLength: number;
  readonly maxDepth: number;
}

export interface XmlPosition {
  readonly line: number;
  readonly column: number;
}

const LT = 60;
const GT = 62;
const SLASH = 47;
const BANG = 33;
const QUESTION = 63;
const AMP = '&';

// ASCII name characters: 1 = may start a name, 2 = may only continue one. Non-ASCII is accepted as both.
const NAME_CHARS = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  if (/[A-Za-z_:]/.test(ch)) NAME_CHARS[c] = 1;
  else if (/[0-9.-]/.test(ch)) NAME_CHARS[c] = 2;
}
const isNameStart = (c: number): boolean => (c < 128 ? NAME_CHARS[c] === 1 : c !== 0xffff && !Number.isNaN(c));
const isNameChar = (c: number): boolean => (c < 128 ? NAME_CHARS[c] !== 0 : c !== 0xffff && !Number.isNaN(c));
const isSpace = (c: number): boolean => c === 32 || c === 10 || c === 9 || c === 13;

const PREDEFINED: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
const ENTITY_REF = /(#x[0-9A-Fa-f]{1,8}|#[0-9]{1,10}|[A-Za-z_:][A-Za-z0-9_:.-]{0,63});/y;

/**
 * A streaming XML tokenizer for the subset reports use, written for speed and for hostile input:
 * - never loads a DTD; a DOCTYPE that declares entities is refused, any other DOCTYPE is ignored;
 * - only the five predefined entities and character references are expanded, anything else is refused;
 * - no text node, tag, comment or DTD may pass `maxTextLength`, checked as the chunks arrive, so an
 *   oversized one is refused before it is held in memory, not after;
 * - element depth is bounded; close tags must match; errors carry line and column.
 * Namespaces are not resolved here: names are handed on as written.
 */
export class XmlTokenizer {
  private pending = '';
  private buf = '';
  private tokenStart = 0;
  private readonly stack: string[] = [];
  private line = 1;
  // Column of the first char of `buf` (chars since the last line break before it).
  private column0 = 0;
  private sawRoot = false;
  private rootClosed = false;
  private stopped = false;

  constructor(
    private readonly handler: XmlTokenHandler,
    private readonly limits: XmlTokenizerLimits,
  ) {}

  /** Ignore everything from here on (the report has been read; what follows is not needed). */
  stop(): void {
    this.stopped = true;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** The open elements, outermost first. */
  get openElements(): readonly string[] {
    return this.stack;
  }

  write(chunk: string): void {
    if (this.stopped) return;
    const buf = this.pending === '' ? chunk : this.pending + chunk;
    this.buf = buf;
    const len = buf.length;
    let pos = 0;
    while (pos < len && !this.stopped) {
      const lt = buf.charCodeAt(pos) === LT ? pos : buf.indexOf('<', pos);
      if (lt !== pos) {
        if (lt < 0) {
          this.tokenStart = pos;
          if (len - pos > this.limits.maxTextLength) this.textTooLong('text');
          break;
        }
        this.text(buf, pos, lt);
        pos = lt;
      }
      this.tokenStart = lt;
      if (lt + 1 >= len) break;
      const next = buf.charCodeAt(lt + 1);
      let end: number;
      if (next === SLASH) end = this.closeTag(buf, lt);
      else if (next === BANG) end = this.markup(buf, lt);
      else if (next === QUESTION) end = this.instruction(buf, lt);
      else end = this.openTag(buf, lt);
      if (end < 0) {
        if (len - lt > this.limits.maxTextLength) this.textTooLong('tag');
        break;
      }
      pos = end;
    }
    this.advance(buf, this.stopped ? len : pos);
  }

  /** The input has ended: anything still open means the document was cut short. */
  end(): void {
    if (this.stopped) return;
    this.buf = this.pending;
    this.tokenStart = 0;
    if (this.stack.length > 0) {
      this.fail('REPORT_XML_TRUNCATED', `document ends inside <${this.stack[this.stack.length - 1]}>: it is truncated`);
    }
    if (this.pending.trim() !== '') {
      this.fail('REPORT_XML_TRUNCATED', 'document ends inside a tag: it is truncated');
    }
    if (!this.sawRoot) this.fail('REPORT_XML_TRUNCATED', 'document ends before its root element');
  }

  /** Where the token being handled starts: for errors raised by the handler. */
  position(): XmlPosition {
    return this.positionOf(this.tokenStart);
  }

  /** An error located at the current token. */
  error(code: ReportErrorCode, reason: string, field?: string): ReportError {
    return new ReportError(code, reason, { ...this.position(), field });
  }

  private fail(code: ReportErrorCode, reason: string): never {
    throw this.error(code, reason);
  }

  private text(buf: string, start: number, end: number): void {
    let i = start;
    while (i < end && isSpace(buf.charCodeAt(i))) i++;
    if (i === end) return;
    if (this.stack.length === 0) {
      this.tokenStart = i;
      this.fail('REPORT_XML_INVALID', this.rootClosed ? 'text after the root element' : 'text before the root element');
    }
    if (end - start > this.limits.maxTextLength) this.textTooLong('text');
    const raw = buf.slice(start, end);
    this.handler.onText(raw.indexOf(AMP) < 0 ? raw : this.decodeEntities(raw));
  }

  private openTag(buf: string, lt: number): number {
    const len = buf.length;
    let i = lt + 1;
    if (!isNameStart(buf.charCodeAt(i))) {
      this.fail('REPORT_XML_INVALID', `invalid character ${quoteChar(buf, i)} after "<"`);
    }
    i++;
    let c = 0;
    while (i < len && isNameChar((c = buf.charCodeAt(i)))) i++;
    if (i >= len) return -1;
    const name = buf.slice(lt + 1, i);
    let attributes: XmlAttribute[] | null = null;
    let selfClosing = false;
    if (c === GT) {
      i++;
    } else if (c === SLASH) {
      if (i + 1 >= len) return -1;
      if (buf.charCodeAt(i + 1) !== GT) this.fail('REPORT_XML_INVALID', `expected ">" after "/" in <${name}>`);
      selfClosing = true;
      i += 2;
    } else if (isSpace(c)) {
      attributes = [];
      const end = this.attributes(buf, i, name, attributes);
      if (end < 0) return -1;
      selfClosing = buf.charCodeAt(end - 2) === SLASH;
      i = end;
    } else {
      this.fail('REPORT_XML_INVALID', `invalid character ${quoteChar(buf, i)} in element name <${name}`);
    }

    if (this.stack.length === 0) {
      if (this.rootClosed) this.fail('REPORT_XML_INVALID', `second root element <${name}>`);
      this.sawRoot = true;
    }
    if (this.stack.length >= this.limits.maxDepth) {
      this.fail('REPORT_XML_TOO_DEEP', `elements nested deeper than ${this.limits.maxDepth} at <${name}>`);
    }
    if (attributes === null && !selfClosing && this.stack.length > 0) {
      const end = this.leaf(buf, i, name);
      if (end > 0) return end;
    }
    this.stack.push(name);
    this.handler.onOpen(name, attributes);
    if (selfClosing) this.closeCurrent();
    return i;
  }

  /**
   * `<name>text</name>` in one piece, the shape of nearly every element of a report: handed on as one
   * `onLeaf` call, with no push and pop. Returns -1 to let the general path take anything else (a child
   * element, a comment, CDATA, a close tag not yet in the buffer).
   */
  private leaf(buf: string, from: number, name: string): number {
    const lt = buf.indexOf('<', from);
    if (lt < 0 || buf.charCodeAt(lt + 1) !== SLASH || !buf.startsWith(name, lt + 2)) return -1;
    const gt = lt + 2 + name.length;
    if (buf.charCodeAt(gt) !== GT) return -1;
    if (lt - from > this.limits.maxTextLength) {
      this.stack.push(name);
      this.textTooLong('text');
    }
    const raw = lt === from ? '' : buf.slice(from, lt);
    this.handler.onLeaf(name, raw.indexOf(AMP) < 0 ? raw : this.decodeEntities(raw));
    return gt + 1;
  }

  /** Reads `name="value"` pairs up to the closing `>`; returns the index after it, or -1 for more input. */
  private attributes(buf: string, from: number, element: string, into: XmlAttribute[]): number {
    const len = buf.length;
    let i = from;
    for (;;) {
      while (i < len && isSpace(buf.charCodeAt(i))) i++;
      if (i >= len) return -1;
      const c = buf.charCodeAt(i);
      if (c === GT) return i + 1;
      if (c === SLASH) {
        if (i + 1 >= len) return -1;
        if (buf.charCodeAt(i + 1) === GT) return i + 2;
        this.fail('REPORT_XML_INVALID', `expected ">" after "/" in <${element}>`);
      }
      const nameStart = i;
      if (!isNameStart(c)) this.fail('REPORT_XML_INVALID', `invalid character ${quoteChar(buf, i)} in <${element}>`);
      while (i < len && isNameChar(buf.charCodeAt(i))) i++;
      const name = buf.slice(nameStart, i);
      while (i < len && isSpace(buf.charCodeAt(i))) i++;
      if (i >= len) return -1;
      if (buf.charCodeAt(i) !== 61) this.fail('REPORT_XML_INVALID', `attribute ${name} of <${element}> has no value`);
      i++;
      while (i < len && isSpace(buf.charCodeAt(i))) i++;
      if (i >= len) return -1;
      const quote = buf[i];
      if (quote !== '"' && quote !== "'") {
        this.fail('REPORT_XML_INVALID', `attribute ${name} of <${element}> is not quoted`);
      }
      const close = buf.indexOf(quote, i + 1);
      if (close < 0) return -1;
      const raw = buf.slice(i + 1, close);
      if (raw.indexOf('<') >= 0) this.fail('REPORT_XML_INVALID', `"<" in attribute ${name} of <${element}>`);
      into.push([name, raw.indexOf(AMP) < 0 ? raw : this.decodeEntities(raw)]);
      i = close + 1;
      const after = buf.charCodeAt(i);
      if (i < len && !isSpace(after) && after !== GT && after !== SLASH) {
        this.fail('REPORT_XML_INVALID', `missing space between attributes of <${element}>`);
      }
    }
  }

  private closeTag(buf: string, lt: number): number {
    const gt = buf.indexOf('>', lt + 2);
    if (gt < 0) return -1;
    const top = this.stack[this.stack.length - 1];
    const nameEnd = lt + 2 + (top?.length ?? 0);
    if (top !== undefined && buf.startsWith(top, lt + 2) && (nameEnd === gt || isBlank(buf, nameEnd, gt))) {
      this.closeCurrent();
      return gt + 1;
    }
    const got = buf.slice(lt + 2, gt).trim();
    if (top === undefined) this.fail('REPORT_XML_INVALID', `closing tag </${got}> with no open element`);
    return this.fail('REPORT_XML_INVALID', `closing tag </${got}> does not match <${top}>`);
  }

  private closeCurrent(): void {
    const name = this.stack.pop()!;
    if (this.stack.length === 0) this.rootClosed = true;
    this.handler.onClose(name);
  }

  /** `<!-- -->`, `<![CDATA[ ]]>` and `<!DOCTYPE>`; -1 when the construct is not complete yet. */
  private markup(buf: string, lt: number): number {
    if (buf.startsWith('<!--', lt)) {
      const end = buf.indexOf('-->', lt + 4);
      if (end < 0) {
        if (buf.length - lt > this.limits.maxTextLength) this.textTooLong('comment');
        return -1;
      }
      return end + 3;
    }
    if (buf.startsWith('<![CDATA[', lt)) {
      const end = buf.indexOf(']]>', lt + 9);
      if (end < 0) {
        if (buf.length - lt > this.limits.maxTextLength) this.textTooLong('text');
        return -1;
      }
      if (this.stack.length === 0) this.fail('REPORT_XML_INVALID', 'CDATA outside the root element');
      if (end - lt - 9 > 0) this.handler.onText(buf.slice(lt + 9, end));
      return end + 3;
    }
    if (buf.startsWith('<!DOCTYPE', lt) || buf.startsWith('<!doctype', lt)) return this.doctype(buf, lt);
    if (buf.length - lt < 9) return -1;
    return this.fail('REPORT_XML_INVALID', `unexpected markup "${buf.slice(lt, lt + 9)}"`);
  }

  /**
   * A DTD is never read: declaring entities is refused at once (XXE, billion laughs), before the DTD is even
   * complete; a DOCTYPE without them (a bare name, an external id that is never fetched) is skipped.
   */
  private doctype(buf: string, lt: number): number {
    if (this.sawRoot) this.fail('REPORT_XML_INVALID', 'DOCTYPE after the root element started');
    const entity = buf.indexOf('<!ENTITY', lt);
    if (entity >= 0) {
      this.tokenStart = entity;
      this.fail('REPORT_XML_ENTITY_REFUSED', 'DOCTYPE declares entities (<!ENTITY>); DTDs and entities are never expanded');
    }
    const close = buf.indexOf('>', lt);
    const subset = buf.indexOf('[', lt);
    let end = -1;
    if (subset >= 0 && (close < 0 || subset < close)) {
      const match = /\]\s*>/g;
      match.lastIndex = subset;
      const found = match.exec(buf);
      if (found) end = found.index + found[0].length;
    } else if (close >= 0) {
      end = close + 1;
    }
    if (end < 0) {
      if (buf.length - lt > this.limits.maxTextLength) this.textTooLong('DOCTYPE');
      return -1;
    }
    this.handler.onNotice('doctype', 'DOCTYPE declaration ignored: DTDs are never loaded');
    return end;
  }

  /** `<?xml ...?>` and other processing instructions carry nothing a report needs. */
  private instruction(buf: string, lt: number): number {
    const end = buf.indexOf('?>', lt + 2);
    return end < 0 ? -1 : end + 2;
  }

  private decodeEntities(raw: string): string {
    let out = '';
    let last = 0;
    for (let amp = raw.indexOf(AMP); amp >= 0; amp = raw.indexOf(AMP, amp + 1)) {
      ENTITY_REF.lastIndex = amp + 1;
      const match = ENTITY_REF.exec(raw);
      if (!match) {
        // "AT&T" in an org name: meant as text, so kept as text.
        this.handler.onNotice('bare-ampersand', 'unescaped "&" kept as text');
        continue;
      }
      out += raw.slice(last, amp) + this.resolveEntity(match[1]);
      last = amp + 1 + match[0].length;
    }
    return out + raw.slice(last);
  }

  private resolveEntity(ref: string): string {
    if (ref.charCodeAt(0) === 35) {
      const code = ref[1] === 'x' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      const valid =
        code === 0x9 || code === 0xa || code === 0xd || (code >= 0x20 && code <= 0xd7ff) ||
        (code >= 0xe000 && code <= 0xfffd) || (code >= 0x10000 && code <= 0x10ffff);
      if (!valid) this.fail('REPORT_XML_INVALID', `character reference &${ref}; is not a valid XML character`);
      return String.fromCodePoint(code);
    }
    const value = PREDEFINED[ref];
    if (value === undefined || !Object.prototype.hasOwnProperty.call(PREDEFINED, ref)) {
      this.fail(
        'REPORT_XML_ENTITY_REFUSED',
        `entity &${ref}; is not one of the five predefined XML entities; entities are never expanded`,
      );
    }
    return value;
  }

  private textTooLong(what: string): never {
    const inside = this.stack.length > 0 ? ` in <${this.stack[this.stack.length - 1]}>` : '';
    return this.fail('REPORT_TEXT_TOO_LONG', `${what}${inside} is longer than ${this.limits.maxTextLength} characters`);
  }

  /** Drops what has been read, keeping line and column accounting for error messages. */
  private advance(buf: string, pos: number): void {
    let lastBreak = -1;
    for (let nl = buf.indexOf('\n'); nl >= 0 && nl < pos; nl = buf.indexOf('\n', nl + 1)) {
      this.line++;
      lastBreak = nl;
    }
    this.column0 = lastBreak < 0 ? this.column0 + pos : pos - lastBreak - 1;
    this.pending = pos >= buf.length ? '' : buf.slice(pos);
    this.buf = '';
  }

  private positionOf(offset: number): XmlPosition {
    const buf = this.buf;
    let line = this.line;
    let lastBreak = -1;
    for (let nl = buf.indexOf('\n'); nl >= 0 && nl < offset; nl = buf.indexOf('\n', nl + 1)) {
      line++;
      lastBreak = nl;
    }
    const column = lastBreak < 0 ? this.column0 + offset + 1 : offset - lastBreak;
    return { line, column };
  }
}

function isBlank(buf: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (!isSpace(buf.charCodeAt(i))) return false;
  return true;
}

function quoteChar(buf: string, i: number): string {
  return i < buf.length ? JSON.stringify(buf[i]) : 'end of input';
}
