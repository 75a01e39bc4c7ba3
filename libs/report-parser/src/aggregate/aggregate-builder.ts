import { isIP } from 'node:net';
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
import {
  clean,
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
} from './aggregate-values';

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

// Where in the report the builder is. Numbers, not strings: this switch runs for every element.
const OUTSIDE = 0;
const FEEDBACK = 1;
const METADATA = 2;
const DATE_RANGE = 3;
const POLICY = 4;
const RECORD = 5;
const ROW = 6;
const EVALUATED = 7;
const REASON = 8;
const IDENTIFIERS = 9;
const AUTH = 10;
const AUTH_DKIM = 11;
const AUTH_SPF = 12;
const SKIP = 13;
const LEAF = 14;

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

/** Leaf elements the builder keeps, by the context they appear in. */
const LEAVES: Array<Readonly<Record<string, number>>> = [];
const F = {
  version: 1, orgName: 2, email: 3, extra: 4, reportId: 5, error: 6, generator: 7, begin: 8, end: 9,
  domain: 10, p: 11, sp: 12, np: 13, pct: 14, adkim: 15, aspf: 16, fo: 17, testing: 18, discovery: 19,
  sourceIp: 20, count: 21, disposition: 22, evalDkim: 23, evalSpf: 24, reasonType: 25, reasonComment: 26,
  headerFrom: 27, envelopeFrom: 28, envelopeTo: 29,
  dkimDomain: 30, dkimSelector: 31, dkimResult: 32, dkimHuman: 33,
  spfDomain: 34, spfScope: 35, spfResult: 36, spfHuman: 37,
} as const;
LEAVES[FEEDBACK] = { version: F.version };
LEAVES[METADATA] = {
  org_name: F.orgName, email: F.email, extra_contact_info: F.extra, report_id: F.reportId, error: F.error,
  generator: F.generator,
};
LEAVES[DATE_RANGE] = { begin: F.begin, end: F.end };
LEAVES[POLICY] = {
  domain: F.domain, p: F.p, sp: F.sp, np: F.np, pct: F.pct, adkim: F.adkim, aspf: F.aspf, fo: F.fo,
  testing: F.testing, discovery_method: F.discovery,
};
LEAVES[ROW] = { source_ip: F.sourceIp, count: F.count };
LEAVES[EVALUATED] = { disposition: F.disposition, dkim: F.evalDkim, spf: F.evalSpf };
LEAVES[REASON] = { type: F.reasonType, comment: F.reasonComment };
LEAVES[IDENTIFIERS] = { header_from: F.headerFrom, envelope_from: F.envelopeFrom, envelope_to: F.envelopeTo };
LEAVES[AUTH_DKIM] = { domain: F.dkimDomain, selector: F.dkimSelector, result: F.dkimResult, human_result: F.dkimHuman };
LEAVES[AUTH_SPF] = { domain: F.spfDomain, scope: F.spfScope, result: F.spfResult, human_result: F.spfHuman };

/** Containers below each context. */
const CHILDREN: Array<Readonly<Record<string, number>>> = [];
CHILDREN[FEEDBACK] = { report_metadata: METADATA, policy_published: POLICY, record: RECORD };
CHILDREN[METADATA] = { date_range: DATE_RANGE };
CHILDREN[RECORD] = { row: ROW, identifiers: IDENTIFIERS, identities: IDENTIFIERS, auth_results: AUTH };
CHILDREN[ROW] = { policy_evaluated: EVALUATED };
CHILDREN[EVALUATED] = { reason: REASON };
CHILDREN[AUTH] = { dkim: AUTH_DKIM, spf: AUTH_SPF };

class RecordDraft {
  sourceIp: string | null = null;
  count: string | null = null;
  disposition: string | null = null;
  dkimAligned: string | null = null;
  spfAligned: string | null = null;
  reasons: PolicyOverrideReason[] = [];
  headerFrom: string | null = null;
  envelopeFrom: string | null = null;
  envelopeTo: string | null = null;
  dkim: DkimAuthResult[] = [];
  spf: SpfAuthResult[] = [];
}

class AuthDraft {
  domain: string | null = null;
  selectorOrScope: string | null = null;
  result: string | null = null;
  humanResult: string | null = null;
}

/**
 * Turns tokenizer events into the normalised report, record by record, holding only the record being read
 * and the current batch. Element names match in any DMARC namespace or none; unknown and extension elements
 * are skipped with their whole subtree; the header is complete at the first `<record>`, so it is emitted
 * there, before any record.
 */
export class AggregateBuilder implements XmlTokenHandler {
  private tokenizer!: XmlTokenizer;
  private readonly out: AggregateOutput[] = [];
  private ctx = OUTSIDE;
  private readonly ctxStack: number[] = [];
  private skipDepth = 0;
  private leaf = 0;
  private leafText = '';
  private readonly dmarcPrefixes = new Set<string>();

  private sawFeedback = false;
  private rootName: string | null = null;
  private finished = false;
  private namespace: string | null = null;
  private readonly meta = new Map<number, string>();
  private readonly errors: string[] = [];
  private headerSent = false;
  private header: AggregateHeader | null = null;

  private record = new RecordDraft();
  private reason: { type: string | null; comment: string | null } = { type: null, comment: null };
  private auth = new AuthDraft();
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
    if (ctx === SKIP) {
      this.skipDepth++;
      return;
    }
    const name = qname.indexOf(':') < 0 ? qname : this.localName(qname);
    if (name === null) {
      // An element of another namespace: an RFC 9990 extension, or a stray wrapper around the report.
      if (ctx === OUTSIDE) this.noteWrapper(qname);
      else this.enter(SKIP);
      return;
    }
    if (ctx === OUTSIDE) {
      if (name === 'feedback' && !this.sawFeedback) this.openFeedback(attributes);
      else this.noteWrapper(qname);
      return;
    }
    if (ctx === LEAF) {
      this.repairs.note(`nested:${name}`, `element <${name}> inside a text field ignored`);
      this.enter(SKIP);
      return;
    }
    const leaf = LEAVES[ctx]?.[name];
    if (leaf !== undefined) {
      this.enter(LEAF);
      this.leaf = leaf;
      this.leafText = '';
      return;
    }
    const child = CHILDREN[ctx]?.[name];
    if (child !== undefined) {
      this.openContainer(child);
      return;
    }
    if (!(ctx === FEEDBACK && name === 'extensions')) {
      this.repairs.note(`unknown:${ctx}:${name}`, `unknown element <${name}> in <${CONTEXT_PATHS[ctx]}> ignored`);
    }
    this.enter(SKIP);
  }

  onClose(): void {
    const ctx = this.ctx;
    if (ctx === SKIP) {
      if (--this.skipDepth > 0) return;
      this.leave();
      return;
    }
    if (ctx === LEAF) {
      this.leave();
      this.setField(this.leaf, this.leafText);
      return;
    }
    this.leave();
    if (ctx !== OUTSIDE) this.closeContainer(ctx);
  }

  onText(text: string): void {
    const ctx = this.ctx;
    if (ctx === LEAF) {
      this.leafText = this.leafText === '' ? text : this.leafText + text;
    } else if (ctx !== SKIP && ctx !== OUTSIDE) {
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
    if (ctx === SKIP) this.skipDepth = 1;
  }

  private leave(): void {
    this.ctx = this.ctxStack.pop() ?? OUTSIDE;
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
    this.ctxStack.push(OUTSIDE);
  }

  private openFeedback(attributes: readonly XmlAttribute[] | null): void {
    this.sawFeedback = true;
    for (const [name, value] of attributes ?? []) {
      if (name === 'xmlns' || (name.startsWith('xmlns:') && DMARC_NAMESPACES.has(value.trim()))) {
        this.namespace = value.trim();
      }
    }
    this.enter(FEEDBACK);
  }

  private openContainer(child: number): void {
    if (child === RECORD) {
      if (!this.headerSent) this.sendHeader();
      this.record = new RecordDraft();
      this.recordCount++;
    } else if ((child === METADATA || child === POLICY) && this.headerSent) {
      throw this.error('REPORT_FIELD_INVALID', `<${CONTEXT_PATHS[child]}> comes after the first record`, CONTEXT_PATHS[child]);
    } else if (child === REASON) {
      this.reason = { type: null, comment: null };
    } else if (child === AUTH_DKIM || child === AUTH_SPF) {
      this.auth = new AuthDraft();
    }
    this.enter(child);
  }

  private closeContainer(ctx: number): void {
    switch (ctx) {
      case FEEDBACK:
        this.finish();
        return;
      case RECORD:
        this.closeRecord();
        return;
      case REASON:
        this.closeReason();
        return;
      case AUTH_DKIM:
        this.closeDkim();
        return;
      case AUTH_SPF:
        this.closeSpf();
        return;
    }
  }

  private setField(field: number, raw: string): void {
    const r = this.record;
    switch (field) {
      case F.sourceIp: r.sourceIp = raw; return;
      case F.count: r.count = raw; return;
      case F.disposition: r.disposition = raw; return;
      case F.evalDkim: r.dkimAligned = raw; return;
      case F.evalSpf: r.spfAligned = raw; return;
      case F.headerFrom: r.headerFrom = raw; return;
      case F.envelopeFrom: r.envelopeFrom = raw; return;
      case F.envelopeTo: r.envelopeTo = raw; return;
      case F.reasonType: this.reason.type = raw; return;
      case F.reasonComment: this.reason.comment = raw; return;
      case F.dkimDomain: case F.spfDomain: this.auth.domain = raw; return;
      case F.dkimSelector: case F.spfScope: this.auth.selectorOrScope = raw; return;
      case F.dkimResult: case F.spfResult: this.auth.result = raw; return;
      case F.dkimHuman: case F.spfHuman: this.auth.humanResult = raw; return;
      case F.error:
        if (this.errors.length < MAX_REPEATED) this.errors.push(clean(raw));
        return;
      default:
        this.meta.set(field, raw);
    }
  }

  private closeRecord(): void {
    const r = this.record;
    const n = this.recordCount;
    const where = `record ${n}`;
    if (r.sourceIp === null || clean(r.sourceIp) === '') this.missing(`${where}: <source_ip> is missing`, `record[${n}]/row/source_ip`);
    if (r.count === null) this.missing(`${where}: <count> is missing`, `record[${n}]/row/count`);
    if (r.disposition === null) this.missing(`${where}: <disposition> is missing`, `record[${n}]/row/policy_evaluated/disposition`);
    const sourceIp = clean(r.sourceIp);
    if (isIP(sourceIp) === 0) {
      this.repairs.note('source-ip', `${where}: source_ip "${sourceIp.slice(0, 60)}" is not an IP address; kept as given`);
    }
    const count = readCount(r.count);
    if (count === undefined) {
      throw this.error('REPORT_FIELD_INVALID', `${where}: <count> "${clean(r.count).slice(0, 40)}" is not a whole number`, `record[${n}]/row/count`);
    }
    const disposition = readDisposition(r.disposition, `${where} disposition`, this.repairs);
    if (disposition === undefined) {
      throw this.error(
        'REPORT_FIELD_INVALID',
        `${where}: <disposition> "${clean(r.disposition).slice(0, 40)}" is not none, quarantine, reject or pass`,
        `record[${n}]/row/policy_evaluated/disposition`,
      );
    }
    const headerFrom = r.headerFrom === null ? '' : clean(r.headerFrom);
    if (headerFrom === '') this.repairs.note('header-from', `${where}: <header_from> is missing or empty`);
    const record: AggregateRecord = {
      sourceIp,
      count,
      disposition,
      dkimAligned: this.alignment(r.dkimAligned, `${where} policy_evaluated/dkim`),
      spfAligned: this.alignment(r.spfAligned, `${where} policy_evaluated/spf`),
      reasons: r.reasons,
      headerFrom,
      envelopeFrom: optional(r.envelopeFrom),
      envelopeTo: optional(r.envelopeTo),
      dkim: r.dkim,
      spf: r.spf,
    };
    this.messageCount += count;
    this.batch.push(record);
    if (this.batch.length >= this.batchSize) {
      this.out.push({ type: 'records', records: this.batch });
      this.batch = [];
    }
  }

  private alignment(raw: string | null, where: string): 'pass' | 'fail' {
    if (raw === null) {
      this.repairs.note(`missing:${where}`, `${where} is missing; counted as fail`);
      return 'fail';
    }
    return readAlignment(raw, where, this.repairs);
  }

  private closeReason(): void {
    const type = readLowerWord(this.reason.type);
    const comment = optional(this.reason.comment);
    const where = `record ${this.recordCount}`;
    if (type === null && comment === null) {
      this.repairs.note('empty-reason', `${where}: empty <reason> dropped`);
      return;
    }
    if (type !== null && !REASON_TYPES.has(type)) {
      this.repairs.note(`reason:${type}`, `${where}: unknown reason type "${type}" kept as given`);
    }
    this.pushBounded(this.record.reasons, { type: type ?? 'other', comment }, 'reason');
  }

  private closeDkim(): void {
    const a = this.auth;
    const where = `record ${this.recordCount} auth_results/dkim`;
    this.pushBounded(this.record.dkim, {
      domain: a.domain === null ? '' : clean(a.domain),
      selector: optional(a.selectorOrScope),
      result: a.result === null ? 'none' : readDkimResult(a.result, where, this.repairs),
      humanResult: optional(a.humanResult),
    }, 'dkim');
  }

  private closeSpf(): void {
    const a = this.auth;
    const where = `record ${this.recordCount} auth_results/spf`;
    this.pushBounded(this.record.spf, {
      domain: a.domain === null ? '' : clean(a.domain),
      scope: readLowerWord(a.selectorOrScope),
      result: a.result === null ? 'none' : readSpfResult(a.result, where, this.repairs),
      humanResult: optional(a.humanResult),
    }, 'spf');
  }

  private pushBounded<T>(list: T[], item: T, what: string): void {
    if (list.length < MAX_REPEATED) list.push(item);
    else this.repairs.note(`too-many:${what}`, `more than ${MAX_REPEATED} <${what}> in one record; the rest ignored`);
  }

  private sendHeader(): void {
    this.headerSent = true;
    this.header = this.buildHeader();
    this.out.push({ type: 'header', report: this.header });
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
