import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as avro from 'avsc';
import { Contracts } from './contracts';
import { CONTRACT_HEADERS } from './headers';

// Real .avsc files: v2 of the test subject adds `label` with a default.
const fixtures = join(__dirname, '__fixtures__/schemas');
const topic = 'dmarc.test.evolution';
const latest = Contracts.load({ schemasDir: fixtures });
const pinnedToV1 = Contracts.load({ schemasDir: fixtures, pinnedVersions: { [topic]: 1 } });

describe('schema evolution', () => {
  it('writes with the latest version unless pinned', () => {
    expect(latest.schemaFor(topic).id).toBe(`${topic}/v2`);
    expect(pinnedToV1.schemaFor(topic).id).toBe(`${topic}/v1`);
  });

  it('stamps the fingerprint of the .avsc file it wrote with', () => {
    const v1 = avro.Type.forSchema(JSON.parse(readFileSync(join(fixtures, topic, 'v1.avsc'), 'utf8')));
    const encoded = pinnedToV1.encode(topic, { id: 'a', tenantId: 't', count: 1 });
    expect(encoded.headers[CONTRACT_HEADERS.fingerprint]).toBe(v1.fingerprint('sha256').toString('hex'));
  });

  it('reads a v1 message with a v2 reader, filling the default', () => {
    const encoded = pinnedToV1.encode(topic, { id: 'a', tenantId: 't', count: 1 });
    const decoded = latest.decode(topic, encoded.value, encoded.headers);
    expect(decoded).toMatchObject({ writer: `${topic}/v1`, reader: `${topic}/v2` });
    expect(decoded.value).toEqual({ id: 'a', tenantId: 't', count: 1, label: 'unlabelled' });
  });

  it('reads a v2 message with a v1 reader, dropping the field it does not know', () => {
    const encoded = latest.encode(topic, { id: 'b', tenantId: 't', count: 2, label: 'new' });
    const decoded = pinnedToV1.decode(topic, encoded.value, encoded.headers);
    expect(decoded).toMatchObject({ writer: `${topic}/v2`, reader: `${topic}/v1` });
    expect(decoded.value).toEqual({ id: 'b', tenantId: 't', count: 2 });
  });

  it('reads both versions side by side on one topic', () => {
    const messages = [
      pinnedToV1.encode(topic, { id: '1', tenantId: 't', count: 1 }),
      latest.encode(topic, { id: '2', tenantId: 't', count: 2, label: 'x' }),
    ];
    const values = messages.map((m) => latest.decode(topic, m.value, m.headers).value as { label: string });
    expect(values.map((v) => v.label)).toEqual(['unlabelled', 'x']);
  });
});
