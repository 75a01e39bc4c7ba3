import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as avro from 'avsc';
import { renderContractTypes } from './codegen/render-types';
import { Contracts } from './contracts';
import type { TopicInputs } from './generated/types';
import { SchemaFingerprints, Topics } from './generated/types';
import { findSchemasDir } from './schemas-dir';

describe('src/generated/types.ts', () => {
  it('is what scripts/gen-contract-types.js makes of schemas/ today', () => {
    const committed = readFileSync(join(__dirname, 'generated/types.ts'), 'utf8');
    // On failure: run `node scripts/gen-contract-types.js` and commit the result.
    expect(committed).toBe(renderContractTypes(findSchemasDir()));
  });

  it('lists every subject and the fingerprint of every version', () => {
    const contracts = Contracts.load();
    expect(Object.values(Topics).sort()).toEqual(contracts.subjectNames().sort());
    for (const subject of contracts.subjectNames()) {
      for (const v of contracts.versionsOf(subject)) {
        expect(SchemaFingerprints[v.id as keyof typeof SchemaFingerprints]).toBe(v.fingerprint);
      }
    }
  });

  it.each(Contracts.load().subjectNames())('round-trips a random valid value of %s', (topic) => {
    const contracts = Contracts.load();
    const value = contracts.schemaFor(topic).type.random();
    const encoded = contracts.encode(topic, value);
    expect(contracts.decode(topic, encoded.value, encoded.headers).value).toEqual(value);
  });

  // Hand-written samples typed with the generated input types, every field set: the compiler
  // checks each against its type, the encoder against the schema. (New topics are covered by the
  // staleness test above; they need no entry here.)
  const samples: { [T in keyof TopicInputs]?: Required<TopicInputs[T]> } = {
    'dmarc.reports.inbound': {
      tenantId: 't',
      payload: Buffer.from('x'),
      filename: 'a.xml',
      contentType: 'text/xml',
      source: 'mta',
      submittedAt: 1,
    },
    'dmarc.reports.received': {
      reportId: 'r',
      tenantId: 't',
      sha256: '0'.repeat(64),
      sizeBytes: 1,
      contentType: 'text/xml',
      filename: 'a.xml',
      raw: { uri: 'pg://raw_reports/r' },
      receivedAt: 1,
    },
    'dmarc.reports.dlq': {
      originalTopic: 'x',
      partition: 0,
      offset: 0,
      key: Buffer.from('k'),
      headers: {},
      payload: Buffer.from('p'),
      errorCode: 'E',
      reason: 'r',
      retriable: false,
      attempts: 1,
      failedAt: 1,
      service: 's',
    },
  };

  it.each(Object.keys(samples) as Array<keyof TopicInputs>)('types %s with exactly the fields of its schema', (topic) => {
    const contracts = Contracts.load();
    const sample = samples[topic] as TopicInputs[typeof topic];
    const fields = (contracts.schemaFor(topic).type as avro.types.RecordType).fields.map((f) => f.name);
    expect(Object.keys(sample).sort()).toEqual([...fields].sort());
    const encoded = contracts.encode(topic, sample);
    expect(contracts.decode(topic, encoded.value, encoded.headers).value).toEqual(sample);
  });
});
