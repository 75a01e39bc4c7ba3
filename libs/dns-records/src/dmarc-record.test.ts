import { parseDmarcRecord, parseReportUri } from './dmarc-record';
import type { Finding } from './findings';

const codes = (findings: Finding[]): string[] => findings.map((f) => f.code);
const errors = (findings: Finding[]): Finding[] => findings.filter((f) => f.severity === 'error');

describe('parseDmarcRecord: real-world records', () => {
  it('a strict record with reports (google.com style)', () => {
    const raw = 'v=DMARC1; p=reject; rua=mailto:mailauth-reports@google.com';
    const { record, findings } = parseDmarcRecord(raw);
    expect(record).toEqual({ v: 'DMARC1', p: 'reject', rua: ['mailto:mailauth-reports@google.com'], raw });
    expect(findings).toEqual([]);
  });

  it('every tag, with a size limit and several URIs', () => {
    const raw =
      'v=DMARC1; p=quarantine; sp=reject; np=reject; pct=50; adkim=s; aspf=r; fo=1:d; rf=afrf; ri=86400; ' +
      'rua=mailto:dmarc@example.com!10m,mailto:agg@example.net; ruf=mailto:forensic@example.com; t=n; psd=n';
    const { record, findings } = parseDmarcRecord(raw);
    expect(record).toEqual({
      v: 'DMARC1',
      p: 'quarantine',
      sp: 'reject',
      np: 'reject',
      pct: 50,
      adkim: 's',
      aspf: 'r',
      fo: '1:d',
      rf: 'afrf',
      ri: 86400,
      rua: ['mailto:dmarc@example.com', 'mailto:agg@example.net'],
      ruf: ['mailto:forensic@example.com'],
      t: 'n',
      psd: 'n',
      raw,
    });
    expect(errors(findings)).toEqual([]);
    expect(codes(findings)).toEqual(expect.arrayContaining(['DMARC_PARTIAL_PCT', 'DMARC_TAG_REMOVED', 'DMARC_RUF_LIMITED', 'DMARC_REPORT_SIZE_LIMIT']));
  });

  it('tolerates spaces, case and a trailing semicolon as receivers do', () => {
    const { record, findings } = parseDmarcRecord('v = DMARC1 ;P = Reject;  SP=None ; rua = mailto:D@Example.com ;');
    expect(record).toMatchObject({ p: 'reject', sp: 'none', rua: ['mailto:D@Example.com'] });
    expect(errors(findings)).toEqual([]);
    expect(codes(findings)).toContain('DMARC_SUBDOMAIN_POLICY_NONE');
  });

  it('p=none is monitoring only, and no rua means no reports', () => {
    const { record, findings } = parseDmarcRecord('v=DMARC1; p=none');
    expect(record?.p).toBe('none');
    expect(codes(findings)).toEqual(['DMARC_POLICY_NONE', 'DMARC_NO_RUA']);
    expect(findings.every((f) => f.severity === 'warning')).toBe(true);
  });

  it('t=y on an enforcing policy is test mode', () => {
    const { record, findings } = parseDmarcRecord('v=DMARC1; p=reject; t=y; rua=mailto:a@example.com');
    expect(record?.t).toBe('y');
    expect(codes(findings)).toEqual(['DMARC_TEST_MODE']);
  });
});

describe('parseDmarcRecord: version', () => {
  it('v must be first', () => {
    const { record, findings } = parseDmarcRecord('p=reject; v=DMARC1');
    expect(record).toBeUndefined();
    expect(codes(findings)).toEqual(['DMARC_VERSION_NOT_FIRST']);
  });
  it('a record without v', () => {
    const { record, findings } = parseDmarcRecord('p=reject; rua=mailto:a@example.com');
    expect(record).toBeUndefined();
    expect(codes(findings)).toEqual(['DMARC_MISSING_VERSION']);
  });
  it('DMARC1 is case-sensitive', () => {
    const { record, findings } = parseDmarcRecord('v=dmarc1; p=reject');
    expect(record).toBeUndefined();
    expect(findings[0]).toMatchObject({ severity: 'error', code: 'DMARC_BAD_VERSION', field: 'v' });
    expect(findings[0]!.message).toContain('"dmarc1"');
  });
  it.each(['v=DMARC1 p=reject', 'v=DMARC1, p=reject, rua=mailto:a@example.com'])('tags not separated by ";": %s', (raw) => {
    const { record, findings } = parseDmarcRecord(raw);
    expect(record).toBeUndefined();
    expect(findings).toEqual([expect.objectContaining({ severity: 'error', code: 'DMARC_SYNTAX', field: 'v' })]);
  });
  it('a missing ";" between later tags is hinted at', () => {
    const { findings } = parseDmarcRecord('v=DMARC1; p=reject rua=mailto:a@example.com');
    expect(findings.find((f) => f.code === 'DMARC_INVALID_TAG_VALUE')!.message).toContain('missing ";"');
  });
  it('an empty record', () => {
    expect(codes(parseDmarcRecord(' ; ').findings)).toContain('DMARC_EMPTY_RECORD');
  });
  it('leading white space is a warning, the record still parses', () => {
    const { record, findings } = parseDmarcRecord(' v=DMARC1; p=reject; rua=mailto:a@example.com');
    expect(record?.p).toBe('reject');
    expect(codes(findings)).toEqual(['DMARC_LEADING_WHITESPACE']);
  });
});

describe('parseDmarcRecord: p', () => {
  it('missing p with a valid rua is p=none with a warning (RFC 7489 §6.6.3)', () => {
    const { record, findings } = parseDmarcRecord('v=DMARC1; rua=mailto:dmarc@example.com');
    expect(record?.p).toBe('none');
    expect(findings.find((f) => f.code === 'DMARC_MISSING_POLICY')).toMatchObject({ severity: 'warning', field: 'p' });
  });
  it('missing p without rua is an error and no record', () => {
    const { record, findings } = parseDmarcRecord('v=DMARC1; sp=reject');
    expect(record).toBeUndefined();
    expect(findings.find((f) => f.code === 'DMARC_MISSING_POLICY')).toMatchObject({ severity: 'error', field: 'p' });
  });
  it('an invalid p names the tag and the value', () => {
    const { record, findings } = parseDmarcRecord('v=DMARC1; p=block');
    expect(record).toBeUndefined();
    const bad = findings.find((f) => f.code === 'DMARC_INVALID_TAG_VALUE');
    expect(bad).toMatchObject({ severity: 'error', field: 'p' });
    expect(bad!.message).toContain('p=block');
  });
  it('p not right after v is noted for old receivers', () => {
    expect(codes(parseDmarcRecord('v=DMARC1; rua=mailto:a@example.com; p=reject').findings)).toEqual(['DMARC_POLICY_NOT_SECOND']);
  });
});

describe('parseDmarcRecord: tag syntax', () => {
  it('unknown tags are warnings naming the tag', () => {
    const { record, findings } = parseDmarcRecord('v=DMARC1; p=reject; rua=mailto:a@example.com; foo=bar');
    expect(record?.p).toBe('reject');
    expect(findings).toEqual([expect.objectContaining({ severity: 'warning', code: 'DMARC_UNKNOWN_TAG', field: 'foo' })]);
  });
  it('a duplicated tag is an error and the first value is kept', () => {
    const { record, findings } = parseDmarcRecord('v=DMARC1; p=reject; p=none; rua=mailto:a@example.com');
    expect(record?.p).toBe('reject');
    expect(findings).toEqual([expect.objectContaining({ severity: 'error', code: 'DMARC_DUPLICATE_TAG', field: 'p' })]);
  });
  it('a part that is not tag=value', () => {
    const { findings } = parseDmarcRecord('v=DMARC1; p=reject; rua=mailto:a@example.com; oops');
    expect(findings).toEqual([expect.objectContaining({ severity: 'error', code: 'DMARC_SYNTAX' })]);
    expect(findings[0]!.message).toContain('oops');
  });
  it.each([
    ['pct=101', 'pct', '101'],
    ['pct=-1', 'pct', '-1'],
    ['pct=abc', 'pct', 'abc'],
    ['ri=1.5', 'ri', '1.5'],
    ['ri=day', 'ri', 'day'],
    ['adkim=x', 'adkim', 'x'],
    ['aspf=strict', 'aspf', 'strict'],
    ['sp=block', 'sp', 'block'],
    ['np=maybe', 'np', 'maybe'],
    ['t=yes', 't', 'yes'],
    ['psd=x', 'psd', 'x'],
    ['fo=2', 'fo', '2'],
    ['fo=0:1', 'fo', '0:1'],
    ['rf=a f', 'rf', 'a f'],
  ])('%s is an invalid value naming %s', (tag, field, value) => {
    const { record, findings } = parseDmarcRecord(`v=DMARC1; p=reject; rua=mailto:a@example.com; ${tag}`);
    expect(record?.p).toBe('reject');
    expect(record?.[field as 'pct']).toBeUndefined();
    const bad = findings.filter((f) => f.code === 'DMARC_INVALID_TAG_VALUE');
    expect(bad).toEqual([expect.objectContaining({ severity: 'error', field })]);
    expect(bad[0]!.message).toContain(`${field}=${value}`);
  });
  it('pct 0 and 100 are valid', () => {
    expect(parseDmarcRecord('v=DMARC1; p=reject; pct=0').record?.pct).toBe(0);
    expect(parseDmarcRecord('v=DMARC1; p=reject; pct=100').record?.pct).toBe(100);
  });
  it('fo without ruf has no effect', () => {
    expect(codes(parseDmarcRecord('v=DMARC1; p=reject; rua=mailto:a@example.com; fo=1').findings)).toEqual(['DMARC_FO_WITHOUT_RUF']);
  });
  it('rf other than afrf', () => {
    expect(codes(parseDmarcRecord('v=DMARC1; p=reject; rua=mailto:a@example.com; rf=iodef').findings)).toContain('DMARC_UNSUPPORTED_REPORT_FORMAT');
  });
});

describe('parseDmarcRecord: rua and ruf', () => {
  it.each([
    ['dmarc@example.com', 'no scheme'],
    ['mailto:', 'not a mail address'],
    ['mailto:dmarc', 'not a mail address'],
    ['mailto:dmarc@', 'not a mail address'],
    ['mailto:dmarc@example', 'single label'],
    ['mailto:dmarc@example.com!big', 'size'],
    ['mailto:d%zz@example.com', '%-escape'],
  ])('%s: %s', (uri, reason) => {
    const { record, findings } = parseDmarcRecord(`v=DMARC1; p=reject; rua=${uri}`);
    expect(record?.rua).toBeUndefined();
    const bad = findings.find((f) => f.code === 'DMARC_INVALID_REPORT_URI');
    expect(bad).toMatchObject({ severity: 'error', field: 'rua' });
    expect(bad!.message).toContain(reason);
  });
  it('an empty rua', () => {
    expect(parseDmarcRecord('v=DMARC1; p=reject; rua=').findings).toContainEqual(expect.objectContaining({ code: 'DMARC_INVALID_REPORT_URI', field: 'rua' }));
  });
  it('keeps the good URIs of a list with a bad one', () => {
    const { record, findings } = parseDmarcRecord('v=DMARC1; p=reject; rua=mailto:a@example.com, bad, mailto:b@example.net!5k');
    expect(record?.rua).toEqual(['mailto:a@example.com', 'mailto:b@example.net']);
    expect(codes(findings)).toEqual(['DMARC_INVALID_REPORT_URI', 'DMARC_REPORT_SIZE_LIMIT']);
  });
  it('a non-mailto URI is kept with a warning', () => {
    const { record, findings } = parseDmarcRecord('v=DMARC1; p=reject; rua=https://reports.example.com/dmarc');
    expect(record?.rua).toEqual(['https://reports.example.com/dmarc']);
    expect(codes(findings)).toEqual(['DMARC_REPORT_URI_NOT_MAILTO']);
  });
  it('more than two URIs', () => {
    const { findings } = parseDmarcRecord('v=DMARC1; p=reject; rua=mailto:a@example.com,mailto:b@example.com,mailto:c@example.com');
    expect(codes(findings)).toEqual(['DMARC_MANY_REPORT_URIS']);
  });
  it('parseReportUri splits scheme, mailbox, domain and size', () => {
    expect(parseReportUri('mailto:Dmarc+x@Reports.Example.COM!20M')).toEqual({
      uri: 'mailto:Dmarc+x@Reports.Example.COM',
      scheme: 'mailto',
      address: 'Dmarc+x@Reports.Example.COM',
      domain: 'reports.example.com',
      sizeLimit: '20m',
    });
  });
});
