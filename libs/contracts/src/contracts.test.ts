import { Contracts } from './contracts';
import { DecodeError, EncodeError, UnknownTopicError } from './errors';
import type { ReportInboundInput, ReportReceivedInput, DeadLetterInput } from './generated/types';
import { CONTRACT_HEADERS } from './headers';
import { findSchemasDir } from './schemas-dir';

const contracts = Contracts.load({ topicAliases: { 'it-123.reports.inbound': 'dmarc.reports.inbound' } });

const inbound: ReportInboundInput = {
  tenantId: 't-1',
  payload: Buffer.from('<feedback/>'),
  filename: 'report.xml',
  submittedAt: 1_700_000_000_000,
};

const receivedRef: ReportReceivedInput = {
  reportId: 'r-1',
  tenantId: 't-1',
  sha256: 'a'.repeat(64),
  sizeBytes: 11,
  contentType: 'application/xml',
  raw: { uri: 'pg://raw_reports/r-1' },
  receivedAt: 1_700_000_000_001,
};

const deadLetter: DeadLetterInput = {
  originalTopic: 'dmarc.reports.received',
  partition: 2,
  offset: 41,
  headers: { 'tenant-id': Buffer.from('t-1') },
  payload: Buffer.from([0xde, 0xad]),
  errorCode: 'CONTRACT_MALFORMED',
  reason: 'truncated buffer',
  retriable: false,
  attempts: 0,
  failedAt: 1_700_000_000_002,
  service: 'parsing',
};

function decodeError(fn: () => unknown): DecodeError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(DecodeError);
    return error as DecodeError;
  }
  throw new Error('expected a DecodeError');
}

describe('Contracts round trip', () => {
  it('encodes and decodes dmarc.reports.inbound, filling defaulted fields', () => {
    const encoded = contracts.encode('dmarc.reports.inbound', inbound);
    const decoded = contracts.decode('dmarc.reports.inbound', encoded.value, encoded.headers);
    expect(decoded.value).toEqual({ ...inbound, contentType: null, source: null });
    expect(decoded.writer).toBe('dmarc.reports.inbound/v1');
  });

  it('encodes dmarc.reports.received with a raw reference and with inline bytes', () => {
    for (const raw of [{ uri: 'pg://raw_reports/r-1' }, Buffer.from('inline bytes')]) {
      const value = { ...receivedRef, raw };
      const encoded = contracts.encode('dmarc.reports.received', value);
      expect(contracts.decode('dmarc.reports.received', encoded.value, encoded.headers).value).toEqual({ ...value, filename: null });
    }
  });

  it('uses the one DLQ schema for dmarc.reports.dlq and every <topic>.dlq', () => {
    for (const topic of ['dmarc.reports.dlq', 'dmarc.reports.received.dlq', 'it-123.reports.inbound.dlq']) {
      const encoded = contracts.encode(topic, deadLetter);
      expect(encoded.headers[CONTRACT_HEADERS.schema]).toBe('dmarc.reports.dlq/v1');
      expect(contracts.decode(topic, encoded.value, encoded.headers).value).toEqual({ ...deadLetter, key: null });
    }
  });

  it('puts the SHA-256 fingerprint of the canonical form and the schema id in the headers', () => {
    const { headers } = contracts.encode('dmarc.reports.inbound', inbound);
    const schema = contracts.schemaFor('dmarc.reports.inbound');
    expect(headers[CONTRACT_HEADERS.fingerprint]).toBe(schema.type.fingerprint('sha256').toString('hex'));
    expect(headers[CONTRACT_HEADERS.fingerprint]).toMatch(/^[0-9a-f]{64}$/);
    expect(headers[CONTRACT_HEADERS.schema]).toBe('dmarc.reports.inbound/v1');
  });

  it('reads headers the way kafkajs hands them over (Buffers, repeated keys)', () => {
    const encoded = contracts.encode('dmarc.reports.inbound', inbound);
    const fp = encoded.headers[CONTRACT_HEADERS.fingerprint];
    const headers = { [CONTRACT_HEADERS.fingerprint]: [Buffer.from(fp), fp] };
    expect(contracts.decode('dmarc.reports.inbound', encoded.value, headers).value.tenantId).toBe('t-1');
  });

  it('maps an alias topic to its subject', () => {
    const encoded = contracts.encode('it-123.reports.inbound', inbound);
    expect(contracts.decode('it-123.reports.inbound', encoded.value, encoded.headers).value).toMatchObject({ tenantId: 't-1' });
  });
});

describe('Contracts refusals', () => {
  const good = contracts.encode('dmarc.reports.inbound', inbound);

  it('rejects a value that does not match the schema, naming the field', () => {
    const bad = { ...inbound, submittedAt: 'yesterday' } as unknown as ReportInboundInput;
    let error: unknown;
    try {
      contracts.encode('dmarc.reports.inbound', bad);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(EncodeError);
    expect(error).toMatchObject({ code: 'CONTRACT_INVALID_VALUE', retriable: false, paths: ['submittedAt'] });
  });

  it('rejects an unknown topic', () => {
    expect(() => contracts.encode('dmarc.nope', {})).toThrow(UnknownTopicError);
    expect(() => contracts.decode('dmarc.nope', good.value, good.headers)).toThrow(UnknownTopicError);
  });

  it('reports a missing fingerprint header', () => {
    const error = decodeError(() => contracts.decode('dmarc.reports.inbound', good.value, {}));
    expect(error).toMatchObject({ code: 'CONTRACT_MISSING_FINGERPRINT', retriable: false, topic: 'dmarc.reports.inbound' });
  });

  it('reports an unknown fingerprint, naming the topic and what the header claimed', () => {
    const headers = { ...good.headers, [CONTRACT_HEADERS.fingerprint]: 'f'.repeat(64) };
    const error = decodeError(() => contracts.decode('dmarc.reports.inbound', good.value, headers));
    expect(error.code).toBe('CONTRACT_UNKNOWN_SCHEMA');
    expect(error.message).toContain('dmarc.reports.inbound');
    expect(error.message).toContain('dmarc.reports.inbound/v1');
  });

  it('reports a fingerprint of another subject as unknown for this topic', () => {
    const dlq = contracts.encode('dmarc.reports.dlq', deadLetter);
    const error = decodeError(() => contracts.decode('dmarc.reports.inbound', dlq.value, dlq.headers));
    expect(error.code).toBe('CONTRACT_UNKNOWN_SCHEMA');
  });

  it('reports garbage, truncated and over-long bytes as malformed', () => {
    const samples = [Buffer.from('this is not avro at all'), good.value.subarray(0, good.value.length - 3), Buffer.concat([good.value, Buffer.from([1, 2])])];
    for (const bytes of samples) {
      const error = decodeError(() => contracts.decode('dmarc.reports.inbound', bytes, good.headers));
      expect(error).toMatchObject({ code: 'CONTRACT_MALFORMED', retriable: false, topic: 'dmarc.reports.inbound' });
      expect(error.cause).toBeInstanceOf(Error);
    }
  });

  it('reports a tombstone and conflicting fingerprint headers as malformed', () => {
    expect(decodeError(() => contracts.decode('dmarc.reports.inbound', null, good.headers)).code).toBe('CONTRACT_MALFORMED');
    const twice = { [CONTRACT_HEADERS.fingerprint]: [good.headers[CONTRACT_HEADERS.fingerprint], 'e'.repeat(64)] };
    expect(decodeError(() => contracts.decode('dmarc.reports.inbound', good.value, twice)).code).toBe('CONTRACT_MALFORMED');
  });

  it('does not echo hostile header contents verbatim', () => {
    const headers = { [CONTRACT_HEADERS.fingerprint]: `\u0000${'x'.repeat(500)}` };
    const error = decodeError(() => contracts.decode('dmarc.reports.inbound', good.value, headers));
    expect(error.message.length).toBeLessThan(400);
    expect(error.message).not.toContain('\u0000');
  });
});

describe('Contracts.load', () => {
  it('finds the repository schemas by default', () => {
    expect(Contracts.load().subjectNames()).toEqual(expect.arrayContaining(['dmarc.reports.inbound', 'dmarc.reports.received', 'dmarc.reports.dlq']));
    expect(findSchemasDir()).toMatch(/schemas$/);
  });

  it('refuses aliases and pins naming subjects that do not exist', () => {
    expect(() => Contracts.load({ topicAliases: { x: 'dmarc.nope' } })).toThrow(/no schema/);
    expect(() => Contracts.load({ pinnedVersions: { 'dmarc.reports.inbound': 9 } })).toThrow(/v9 does not exist/);
  });
});
