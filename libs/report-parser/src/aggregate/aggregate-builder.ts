import type { ReportErrorCode } from '../errors';
import type { RepairLog } from '../repair-log';
import type { XmlAttribute, XmlTokenHandler, XmlTokenizer } from '../xml/xml-tokenizer';
import type {
  AggregateFormat,
  AggregateHeader,
  AggregateRecord,
  AggregateSummary,
  DkimAuthResult,
  PolicyOverrideReason,
  SpfAuthResult,
} from './aggregate-report';
import * as values from './aggregate-values';

// Bound once: under tsx (esbuild's CommonJS output) every use of an imported name is a getter call, and on
// this path that cost 5 % of the parse.
const {
  clean,
  looksLikeIp,
  optional,
  readAlignment,
  readCount,
  readDisposition,
  readDkimResult,
  readLowerWord,
  readPercent,
  readPolicy,
  readSpfResult,
  readTimestamp,
  REASON_TYPES,
} = values;

/** What the builder hands to the stream, in order: one header, record batches, one summary. */
export type AggregateOutput =
  | { readonly type: 'header'; readonly report: AggregateHeader }
  | { readonly type: 'records'; readonly records: AggregateRecord[] }
  | { readonly type: 'end'; readonly summary: AggregateSummary };

const DMARC_NAMESPACES: ReadonlySet<string> = new Set([
  'urn:ietf:params:xml:ns:dmarc-2.0',
  'http://dmarc.org/dmarc-xml/0.1',
]);
const RFC9990_NAMESPACE = 'urn:ietf:params:xml:ns:dmarc-2.0';
// A hostile report could repeat one element endlessly inside a single record or header.
const MAX_REPEATED = 100;

// Where in the report the builder is. A const enum: the switches below run for every element, and compile
// to comparisons with literals.
const enum C {
  OUTSIDE = 0,
  FEEDBACK = 1,
  METADATA = 2,
  DATE_RANGE = 3,
  POLICY = 4,
  RECORD = 5,
  ROW = 6,
  EVALUATED = 7,
  REASON = 8,
  IDENTIFIERS = 9,
  AUTH = 10,
  AUTH_DKIM = 11,
  AUTH_SPF = 12,
  SKIP = 13,
  LEAF = 14,
}

const CONTEXT_PATHS = [
  '',
  'feedback',
  'report_metadata',
  'report_metadata/date_range',
  'policy_published',
  'record',
  'record/row',
  'record/row/policy_evaluated',
  'record/row/policy_evaluated/reason',
  'record/identifiers',
  'record/auth_results',
  'record/auth_results/dkim',
  'record/auth_results/spf',
];

// Header fields, kept by number until the header is built.
const enum F {
  version = 1, orgName, email, extra, reportId, error, generator, begin, end,
  domain, p, sp, np, pct, adkim, aspf, fo, testing, discovery,
}
/** The container `name` opens inside `ctx`; C.SKIP for RFC 9990 <extensions>; -1 when it is none. */
function containerOf(ctx: number, name: string): number {
  switch (ctx) {
    case C.RECORD:
      switch (name) {
        case 'row': return C.ROW;
        case 'identifiers': case 'identities': return C.IDENTIFIERS;
        case 'auth_results': return C.AUTH;
      }
      break;
    case C.ROW:
      if (name === 'policy_evaluated') return C.EVALUATED;
      break;
    case C.EVALUATED:
      if (name === 'reason') return C.REASON;
      break;
    case C.AUTH:
      if (name === 'dkim') return C.AUTH_DKIM;
      if (name === 'spf') return C.AUTH_SPF;
      break;
    case C.FEEDBACK:
      switch (name) {
        case 'record': return C.RECORD;
        case 'report_metadata': return C.METADATA;
        case 'policy_published': return C.POLICY;
        case 'extensions': return C.SKIP;
      }
      break;
    case C.METADATA:
      if (name === 'date_range') return C.DATE_RANGE;
      break;
  }
  return -1;
}

/** The header field a text element of `ctx` holds; 0 when it is none. */
function headerField(ctx: number, name: string): F | 0 {
  switch (ctx) {
    case C.FEEDBACK:
      return name === 'version' ? F.version : 0;
    case C.METADATA:
      switch (name) {
        case 'org_name': return F.orgName;
        case 'email': return F.email;
        case 'extra_contact_info': return F.extra;
        case 'report_id': return F.reportId;
        case 'error': return F.error;
        case 'generator': return F.generator;
      }
      return 0;
    case C.DATE_RANGE:
      return name === 'begin' ? F.begin : name === 'end' ? F.end : 0;
    case C.POLICY:
      switch (name) {
        case 'domain': return F.domain;
        case 'p': return F.p;
        case 'sp': return F.sp;
        case 'np': return F.np;
        case 'pct': return F.pct;
        case 'adkim': return F.adkim;
        case 'aspf': return F.aspf;
        case 'fo': return F.fo;
        case 'testing': return F.testing;
        case 'discovery_method': return F.discovery;
      }
      return 0;
  }
  return 0;
}

// One draft each, reset and refilled for every record: a million records allocate only what they output.
class RecordDraft {
  sourceIp: string | null = null;
  count: string | null = null;
  disposition: string | null = null;
  dkimAligned: string | null = null;
  spfAligned: string | null = null;
  reasons: PolicyOverrideReason[] | null = null;
  headerFrom: string | null = null;
  envelopeFrom: string | null = null;
  envelopeTo: string | null = null;
  dkim: DkimAuthResult[] | null = null;
  spf: SpfAuthResult[] | null = null;

  reset(): void {
    this.sourceIp = this.count = this.disposition = this.dkimAligned = this.spfAligned = null;
    this.headerFrom = this.envelopeFrom = this.envelopeTo = null;
    this.reasons = null;
    this.dkim = null;
    this.spf = null;
  }
}

class AuthDraft {
  domain: string | null = null;
  selectorOrScope: string | null = null;
  result: string | null = null;
  humanResult: string | null = null;

  reset(): void {
    this.domain = this.selectorOrScope = this.result = this.humanResult = null;
  }
}

class ReasonDraft {
  type: string | null = null;
  comment: string | null = null;

  reset(): void {
    this.type = this.comment = null;
  }
}

const NO_REASONS: readonly PolicyOverrideReason[] = Object.freeze([]);
const NO_DKIM: readonly DkimAuthResult[] = Object.freeze([]);
const NO_SPF: readonly SpfAuthResult[] = Object.freeze([]);

/**
 * Turns tokenizer events into the normalised report, record by record, holding only the record being read
 * and the current batch. Element names match in any DMARC namespace or none; unknown and extension elements
 * are skipped with their whole subtree; the header is complete at the first `<record>`, so it is emitted
 * there, before any record.
 */
export class AggregateBuilder implements XmlTokenHandler {
  private tokenizer!: XmlTokenizer;
  private readonly out: AggregateOutput[] = [];
  private ctx = C.OUTSIDE;
  private readonly ctxStack: number[] = [];
  private skipDepth = 0;
  private leafName = '';
  private leafText = '';
  private leafHasChildren = false;
  private readonly dmarcPrefixes = new Set<string>();

  private sawFeedback = false;
  private rootName: string | null = null;
  private finished = false;
  private namespace: string | null = null;
  private readonly meta = new Map<number, string>();
  private readonly errors: string[] = [];
  private headerSent = false;

  private readonly record = new RecordDraft();
  private readonly reason = new ReasonDraft();
  private readonly auth = new AuthDraft();
  private batch: AggregateRecord[] = [];
  private recordCount = 0;
  private messageCount = 0;

  constructor(
    private readonly repairs: RepairLog,
    private readonly batchSize: number,
  ) {}

  attach(tokenizer: XmlTokenizer): void {
    this.tokenizer = tokenizer;
  }

  /** Outputs produced since the last call. */
  take(): AggregateOutput[] {
    return this.out.length === 0 ? NONE : this.out.splice(0, this.out.length);
  }

  get isFinished(): boolean {
    return this.finished;
  }

  get sawReport(): boolean {
    return this.sawFeedback;
  }

  /** The document's first element: what to name when it holds no `<feedback>`. */
  get firstElement(): string | null {
    return this.rootName;
  }

  onOpen(qname: string, attributes: readonly XmlAttribute[] | null): void {
    if (attributes !== null) this.readNamespaces(attributes);
    this.rootName ??= qname;
    const ctx = this.ctx;
    if (ctx === C.SKIP) {
      this.skipDepth++;
      return;
    }
    const name = qname.indexOf(':') < 0 ? qname : this.localName(qname);
    if (name === null) {
      // An element of another namespace: an RFC 9990 extension, or a stray wrapper around the report.
      if (ctx === C.OUTSIDE) this.noteWrapper(qname);
      else this.enter(C.SKIP);
      return;
    }
    if (ctx === C.OUTSIDE) {
      if (name === 'feedback' && !this.sawFeedback) this.openFeedback(attributes);
      else this.noteWrapper(qname);
      return;
    }
    if (ctx === C.LEAF) {
      // Not text after all: children are ignored, and the element is judged when it closes.
      this.leafHasChildren = true;
      this.enter(C.SKIP);
      return;
    }
    const child = containerOf(ctx, name);
    if (child === C.SKIP) {
      this.enter(C.SKIP);
    } else if (child >= 0) {
      this.openContainer(child);
    } else {
      // A text field or an unknown element: which, is known when it closes.
      this.enter(C.LEAF);
      this.leafName = name;
      this.leafText = '';
      this.leafHasChildren = false;
    }
  }

  onClose(): void {
    const ctx = this.ctx;
    if (ctx === C.SKIP) {
      if (--this.skipDepth > 0) return;
      this.leave();
      return;
    }
    if (ctx === C.LEAF) {
      this.leave();
      this.closeLeaf();
      return;
    }
    this.leave();
    if (ctx !== C.OUTSIDE) this.closeContainer(ctx);
  }

  onLeaf(qname: string, text: string): void {
    const ctx = this.ctx;
    if (ctx === C.SKIP) return;
    // The fast path: a known text field of the current context, set directly.
    if (ctx !== C.LEAF && ctx !== C.OUTSIDE && this.assignLeaf(ctx, qname, text)) return;
    // Anything else (an empty container, an unknown or prefixed element) takes the general path.
    this.onOpen(qname, null);
    if (/\S/.test(text)) this.onText(text);
    this.onClose();
  }

  onText(text: string): void {
    const ctx = this.ctx;
    if (ctx === C.LEAF) {
      this.leafText = this.leafText === '' ? text : this.leafText + text;
    } else if (ctx !== C.SKIP && ctx !== C.OUTSIDE) {
      const shown = text.trim().slice(0, 40);
      this.repairs.note(`stray-text:${ctx}`, `stray text "${shown}" in <${CONTEXT_PATHS[ctx]}> ignored`);
    }
  }

  onNotice(kind: string, text: string): void {
    this.repairs.note(kind, text);
  }

  private enter(ctx: number): void {
    this.ctxStack.push(this.ctx);
    this.ctx = ctx;
    if (ctx === C.SKIP) this.skipDepth = 1;
  }

  private leave(): void {
    this.ctx = this.ctxStack.pop() ?? C.OUTSIDE;
  }

  private localName(qname: string): string | null {
    const colon = qname.indexOf(':');
    return this.dmarcPrefixes.has(qname.slice(0, colon)) ? qname.slice(colon + 1) : null;
  }

  private readNamespaces(attributes: readonly XmlAttribute[]): void {
    for (const [name, value] of attributes) {
      if (name.startsWith('xmlns:') && DMARC_NAMESPACES.has(value.trim())) this.dmarcPrefixes.add(name.slice(6));
    }
  }

  private noteWrapper(qname: string): void {
    this.repairs.note(`wrapper:${qname}`, `stray <${qname}> element around the report ignored`);
    this.ctxStack.push(C.OUTSIDE);
  }

  private openFeedback(attributes: readonly XmlAttribute[] | null): void {
    this.sawFeedback = true;
    for (const [name, value] of attributes ?? []) {
      if (name === 'xmlns' || (name.startsWith('xmlns:') && DMARC_NAMESPACES.has(value.trim()))) {
        this.namespace = value.trim();
      }
    }
    this.enter(C.FEEDBACK);
  }

  private openContainer(child: number): void {
    if (child === C.RECORD) {
      if (!this.headerSent) this.sendHeader();
      this.record.reset();
      this.recordCount++;
    } else if ((child === C.METADATA || child === C.POLICY) && this.headerSent) {
      throw this.error('REPORT_FIELD_INVALID', `<${CONTEXT_PATHS[child]}> comes after the first record`, CONTEXT_PATHS[child]);
    } else if (child === C.REASON) {
      this.reason.reset();
    } else if (child === C.AUTH_DKIM || child === C.AUTH_SPF) {
      this.auth.reset();
    }
    this.enter(child);
  }

  private closeContainer(ctx: number): void {
    switch (ctx) {
      case C.FEEDBACK:
        this.finish();
        return;
      case C.RECORD:
        this.closeRecord();
        return;
      case C.REASON:
        this.closeReason();
        return;
      case C.AUTH_DKIM:
        this.closeDkim();
        return;
      case C.AUTH_SPF:
        this.closeSpf();
        return;
    }
  }

  /** Stores the text of element `name` of context `ctx`; false when `ctx` has no such text field. */
  private assignLeaf(ctx: number, name: string, text: string): boolean {
    const r = this.record;
    switch (ctx) {
      case C.ROW:
        if (name === 'source_ip') r.sourceIp = text;
        else if (name === 'count') r.count = text;
        else return false;
        return true;
      case C.EVALUATED:
        if (name === 'disposition') r.disposition = text;
        else if (name === 'dkim') r.dkimAligned = text;
        else if (name === 'spf') r.spfAligned = text;
        else return false;
        return true;
      case C.AUTH_DKIM:
      case C.AUTH_SPF: {
        const a = this.auth;
        if (name === 'domain') a.domain = text;
        else if (name === 'result') a.result = text;
        else if (name === (ctx === C.AUTH_DKIM ? 'selector' : 'scope')) a.selectorOrScope = text;
        else if (name === 'human_result') a.humanResult = text;
        else return false;
        return true;
      }
      case C.IDENTIFIERS:
        if (name === 'header_from') r.headerFrom = text;
        else if (name === 'envelope_from') r.envelopeFrom = text;
        else if (name === 'envelope_to') r.envelopeTo = text;
        else return false;
        return true;
      case C.REASON:
        if (name === 'type') this.reason.type = text;
        else if (name === 'comment') this.reason.comment = text;
        else return false;
        return true;
    }
    const field = headerField(ctx, name);
    if (field === 0) return false;
    if (field !== F.error) this.meta.set(field, text);
    else if (this.errors.length < MAX_REPEATED) this.errors.push(clean(text));
    return true;
  }

  /** The end of an element read as text (the general path: split across chunks, or with comments inside). */
  private closeLeaf(): void {
    const ctx = this.ctx;
    const name = this.leafName;
    if (!this.assignLeaf(ctx, name, this.leafText)) {
      this.repairs.note(`unknown:${ctx}:${name}`, `unknown element <${name}> in <${CONTEXT_PATHS[ctx]}> ignored`);
    } else if (this.leafHasChildren) {
      this.repairs.note(`nested:${name}`, `elements inside <${name}> ignored`);
    }
  }

  private closeRecord(): void {
    const r = this.record;
    const n = this.recordCount;
    if (r.sourceIp === null || clean(r.sourceIp) === '') this.missing(`record ${n}: <source_ip> is missing`, `record[${n}]/row/source_ip`);
    if (r.count === null) this.missing(`record ${n}: <count> is missing`, `record[${n}]/row/count`);
    if (r.disposition === null) {
      this.missing(`record ${n}: <disposition> is missing`, `record[${n}]/row/policy_evaluated/disposition`);
    }
    const sourceIp = clean(r.sourceIp);
    if (!looksLikeIp(sourceIp)) {
      this.repairs.note('source-ip', `record ${n}: source_ip "${sourceIp.slice(0, 60)}" is not an IP address; kept as given`);
    }
    const count = readCount(r.count);
    if (count === undefined) {
      throw this.error('REPORT_FIELD_INVALID', `record ${n}: <count> "${clean(r.count).slice(0, 40)}" is not a whole number`, `record[${n}]/row/count`);
    }
    const disposition = readDisposition(r.disposition, n, this.repairs);
    if (disposition === undefined) {
      throw this.error(
        'REPORT_FIELD_INVALID',
        `record ${n}: <disposition> "${clean(r.disposition).slice(0, 40)}" is not none, quarantine, reject or pass`,
        `record[${n}]/row/policy_evaluated/disposition`,
      );
    }
    const headerFrom = r.headerFrom === null ? '' : clean(r.headerFrom);
    if (headerFrom === '') this.repairs.note('header-from', `record ${n}: <header_from> is missing or empty`);
    const record: AggregateRecord = {
      sourceIp,
      count,
      disposition,
      dkimAligned: readAlignment(r.dkimAligned, 'policy_evaluated/dkim', n, this.repairs),
      spfAligned: readAlignment(r.spfAligned, 'policy_evaluated/spf', n, this.repairs),
      reasons: r.reasons ?? NO_REASONS,
      headerFrom,
      envelopeFrom: optional(r.envelopeFrom),
      envelopeTo: optional(r.envelopeTo),
      dkim: r.dkim ?? NO_DKIM,
      spf: r.spf ?? NO_SPF,
    };
    this.messageCount += count;
    this.batch.push(record);
    if (this.batch.length >= this.batchSize) {
      this.out.push({ type: 'records', records: this.batch });
      this.batch = [];
    }
  }

  private closeReason(): void {
    const type = readLowerWord(this.reason.type);
    const comment = optional(this.reason.comment);
    const n = this.recordCount;
    if (type === null && comment === null) {
      this.repairs.note('empty-reason', `record ${n}: empty <reason> dropped`);
      return;
    }
    if (type !== null && !REASON_TYPES.has(type)) {
      this.repairs.note(`reason:${type}`, `record ${n}: unknown reason type "${type}" kept as given`);
    }
    this.record.reasons = this.pushBounded(this.record.reasons, { type: type ?? 'other', comment }, 'reason');
  }

  private closeDkim(): void {
    const a = this.auth;
    const result: DkimAuthResult = {
      domain: a.domain === null ? '' : clean(a.domain),
      selector: optional(a.selectorOrScope),
      result: a.result === null ? 'none' : readDkimResult(a.result, this.recordCount, this.repairs),
      humanResult: optional(a.humanResult),
    };
    this.record.dkim = this.pushBounded(this.record.dkim, result, 'dkim');
  }

  private closeSpf(): void {
    const a = this.auth;
    const result: SpfAuthResult = {
      domain: a.domain === null ? '' : clean(a.domain),
      scope: readLowerWord(a.selectorOrScope),
      result: a.result === null ? 'none' : readSpfResult(a.result, this.recordCount, this.repairs),
      humanResult: optional(a.humanResult),
    };
    this.record.spf = this.pushBounded(this.record.spf, result, 'spf');
  }

  private pushBounded<T>(list: T[] | null, item: T, what: string): T[] {
    if (list === null) return [item];
    if (list.length < MAX_REPEATED) list.push(item);
    else this.repairs.note(`too-many:${what}`, `more than ${MAX_REPEATED} <${what}> in one record; the rest ignored`);
    return list;
  }

  private sendHeader(): void {
    this.headerSent = true;
    this.out.push({ type: 'header', report: this.buildHeader() });
  }

  private buildHeader(): AggregateHeader {
    const m = this.meta;
    const text = (field: number): string | null => optional(m.get(field) ?? null);
    const reportId = text(F.reportId);
    if (reportId === null) this.missing('<report_id> is missing', 'report_metadata/report_id');
    const domain = text(F.domain);
    if (domain === null) this.missing('<policy_published><domain> is missing', 'policy_published/domain');
    const orgName = text(F.orgName) ?? '';
    if (orgName === '') this.repairs.note('org-name', '<org_name> is empty');
    const dateRange = { begin: this.timestamp(F.begin, 'begin'), end: this.timestamp(F.end, 'end') };

    const version = text(F.version);
    const np = text(F.np);
    const testing = readLowerWord(m.get(F.testing) ?? null);
    const discoveryMethod = readLowerWord(m.get(F.discovery) ?? null);
    const generator = text(F.generator);
    // np alone says nothing: RFC 9091 added it to RFC 7489 reports, and Google sends it without <version>.
    const format: AggregateFormat =
      this.namespace === RFC9990_NAMESPACE || version?.startsWith('2') || testing !== null ||
      discoveryMethod !== null || generator !== null
        ? 'rfc9990'
        : version === null ? 'draft' : 'rfc7489';
    return {
      kind: 'aggregate',
      version: version ?? (format === 'draft' ? 'draft' : '2.0'),
      format,
      orgName,
      email: text(F.email),
      extraContactInfo: text(F.extra),
      reportId,
      dateRange,
      errors: this.errors,
      generator,
      policy: {
        domain: domain.toLowerCase(),
        p: readPolicy(m.get(F.p) ?? null, 'policy_published/p', this.repairs),
        sp: readPolicy(m.get(F.sp) ?? null, 'policy_published/sp', this.repairs),
        np: readPolicy(np, 'policy_published/np', this.repairs),
        pct: readPercent(m.get(F.pct) ?? null, 'policy_published/pct', this.repairs),
        adkim: readLowerWord(m.get(F.adkim) ?? null),
        aspf: readLowerWord(m.get(F.aspf) ?? null),
        fo: text(F.fo),
        testing,
        discoveryMethod,
      },
    };
  }

  private timestamp(field: number, name: string): string {
    const where = `report_metadata/date_range/${name}`;
    const raw = this.meta.get(field);
    if (raw === undefined) this.missing(`<date_range><${name}> is missing`, where);
    const value = readTimestamp(raw, where, this.repairs);
    if (value === undefined) {
      throw this.error('REPORT_FIELD_INVALID', `<date_range><${name}> "${clean(raw).slice(0, 40)}" is not a timestamp`, where);
    }
    return value;
  }

  private finish(): void {
    if (!this.headerSent) this.sendHeader();
    if (this.batch.length > 0) this.out.push({ type: 'records', records: this.batch });
    this.batch = [];
    this.out.push({
      type: 'end',
      summary: { recordCount: this.recordCount, messageCount: this.messageCount, repairs: this.repairs.list() },
    });
    this.finished = true;
    this.tokenizer.stop();
  }

  private missing(reason: string, field: string): never {
    throw this.error('REPORT_FIELD_MISSING', reason, field);
  }

  private error(code: ReportErrorCode, reason: string, field: string): Error {
    return this.tokenizer.error(code, reason, field);
  }
}

const NONE: AggregateOutput[] = [];
