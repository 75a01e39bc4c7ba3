import { createKafkaBus, type Bus, type Delivered } from '@dmarc/bus';
import { Contracts, findSchemasDir, type AlertInput, type DeadLetter } from '@dmarc/contracts';
import { waitFor } from '@dmarc/testing';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AlertDecoder, runAlertConsumer, type AlertV1, type UndecodableAlertError } from '../../../schemas/dmarc.alerts/example-consumer';
import { emptyEvidence } from './alert-candidate';

// A consumer reading an alert written with a newer schema than its own, on the real broker: a reader that does not
// have the writer's schema dead-letters the message with CONTRACT_UNKNOWN_SCHEMA (its bytes kept) and goes on; a
// reader that has it but reads v1 decodes it with the defaults. The same for the example consumer of
// schemas/dmarc.alerts, which uses kafkajs and avsc alone. The v2 schema exists only in this test (a temporary
// copy of schemas/), and the messages go to a topic of this run's own, read through an alias of dmarc.alerts.
const run = `${Date.now()}-${process.pid}`;
const TOPIC = `test.alerts-evolution.${run}`;
const aliases = { [TOPIC]: 'dmarc.alerts' };

/** dmarc.alerts v2 as a later release might publish it: a new rule, a new severity, a new field (with a default). */
function writeV2(schemasDir: string): void {
  const v2 = JSON.parse(readFileSync(join(schemasDir, 'dmarc.alerts/v1.avsc'), 'utf8'));
  const field = (name: string) => v2.fields.find((f: { name: string }) => f.name === name);
  field('rule').type.symbols.push('lookalike_domain');
  field('severity').type.symbols.push('emergency');
  v2.fields.push({ name: 'playbookUrl', type: ['null', 'string'], default: null, doc: 'A runbook for the alert.' });
  writeFileSync(join(schemasDir, 'dmarc.alerts/v2.avsc'), JSON.stringify(v2, null, 2));
}

const alert = (rule: string, severity: string, extra: object = {}): AlertInput =>
  ({
    alertId: `${rule}-${run}`,
    tenantId: '00000000-0000-4000-8000-00000000e701',
    domain: 'example.com',
    rule,
    severity,
    title: `${rule} at example.com`,
    summary: 'test',
    evidence: { ...emptyEvidence(), failingMessages: 42 },
    windowStart: 1_000,
    windowEnd: 2_000,
    detectedAt: 1_500,
    traceId: null,
    ...extra,
  }) as AlertInput;

describe('an alert written with a newer schema (real Kafka)', () => {
  const brokers = process.env.KAFKA_BROKERS!.split(',');
  let dir: string;
  let v2Writer: Bus;
  let v1Reader: Bus;
  let pinnedReader: Bus;
  const read: Array<{ consumer: string; value: AlertV1; writer: string }> = [];
  const dead: DeadLetter[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'alerts-evolution-'));
    cpSync(findSchemasDir(), dir, { recursive: true });
    writeV2(dir);
    const newer = Contracts.load({ schemasDir: dir, topicAliases: aliases });
    expect(newer.schemaFor(TOPIC).id).toBe('dmarc.alerts/v2');
    v2Writer = await createKafkaBus({ brokers, clientId: 'alerts-evolution-writer', contracts: newer });
    await v2Writer.ensureTopics([{ topic: TOPIC, partitions: 1 }]);
    // The platform's contracts as they are: v1 only.
    v1Reader = await createKafkaBus({ brokers, clientId: 'alerts-evolution-v1', contracts: Contracts.load({ topicAliases: aliases }) });
    // A consumer that has v2's file but whose code still reads v1.
    pinnedReader = await createKafkaBus({ brokers, clientId: 'alerts-evolution-pinned', contracts: Contracts.load({ schemasDir: dir, topicAliases: aliases, pinnedVersions: { 'dmarc.alerts': 1 } }) });
    const collect = (consumer: string) => async (m: Delivered<string>) => void read.push({ consumer, value: m.value as AlertV1, writer: m.writer });
    await v1Reader.consume({ groupId: `evolution-v1-${run}`, topics: [TOPIC], handler: collect('v1') });
    await v1Reader.consume({ groupId: `evolution-dlq-${run}`, topics: [`${TOPIC}.dlq`], handler: async (m) => void dead.push(m.value as DeadLetter) });
    await pinnedReader.consume({ groupId: `evolution-pinned-${run}`, topics: [TOPIC], handler: collect('pinned') });

    await v2Writer.publish(TOPIC, [
      { key: 'k', tenantId: '00000000-0000-4000-8000-00000000e701', value: alert('lookalike_domain', 'emergency', { playbookUrl: 'https://runbooks.example/lookalike' }) },
      { key: 'k', tenantId: '00000000-0000-4000-8000-00000000e701', value: alert('spoofing', 'high') },
    ]);
    // Then one written with v1, as today's platform writes it.
    await v1Reader.publish(TOPIC, [{ key: 'k', tenantId: '00000000-0000-4000-8000-00000000e701', value: alert('new_source', 'medium') }]);
  }, 60_000);
  afterAll(async () => {
    await Promise.all([v2Writer?.close(), v1Reader?.close(), pinnedReader?.close()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('a reader without the new schema dead-letters it with CONTRACT_UNKNOWN_SCHEMA, bytes kept, and reads on', async () => {
    // The v1 message after them is read: the consumer did not stop.
    const [v1] = await waitFor('the v1 alert', () => {
      const mine = read.filter((r) => r.consumer === 'v1');
      return mine.length > 0 ? mine : undefined;
    });
    expect([v1.writer, v1.value.rule]).toEqual(['dmarc.alerts/v1', 'new_source']);
    // Both v2 messages (the second uses nothing v1 lacks, but its fingerprint is v2's) wait in the DLQ, bytes and
    // headers untouched, for a replay once the consumer has the schema.
    const letters = await waitFor('both dead letters', () => (dead.length === 2 ? dead : undefined));
    for (const letter of letters) {
      expect(letter).toMatchObject({ originalTopic: TOPIC, errorCode: 'CONTRACT_UNKNOWN_SCHEMA', retriable: false, service: `evolution-v1-${run}` });
      expect(letter.reason).toContain('dmarc.alerts/v2');
      expect(letter.headers['avro-schema'].toString()).toBe('dmarc.alerts/v2');
    }
    const replayed = Contracts.load({ schemasDir: dir, topicAliases: aliases }).decode(TOPIC, letters[0].payload, letters[0].headers);
    expect(replayed.value).toMatchObject({ rule: 'lookalike_domain', severity: 'emergency', playbookUrl: 'https://runbooks.example/lookalike' });
    expect(read.filter((r) => r.consumer === 'v1')).toHaveLength(1);
  });

  it('a reader with the new schema whose code reads v1 decodes it with the defaults', async () => {
    const pinned = await waitFor('the three alerts', () => {
      const mine = read.filter((r) => r.consumer === 'pinned');
      return mine.length === 3 ? mine : undefined;
    });
    expect(pinned.map((r) => [r.writer, r.value.rule, r.value.severity])).toEqual([
      ['dmarc.alerts/v2', 'unknown', 'unknown'],
      ['dmarc.alerts/v2', 'spoofing', 'high'],
      ['dmarc.alerts/v1', 'new_source', 'medium'],
    ]);
    expect(pinned[0].value).not.toHaveProperty('playbookUrl');
    expect(pinned[0].value.evidence.failingMessages).toBe(42);
  });

  it('the example consumer (kafkajs + avsc): without v2 it reports the v2 messages as unknown-schema and goes on; with v2 it reads them as v1', async () => {
    const undecodable: UndecodableAlertError[] = [];
    const withoutV2: AlertV1[] = [];
    const withV2: AlertV1[] = [];
    const repoOnly = await runAlertConsumer({
      brokers,
      groupId: `evolution-example-v1-${run}`,
      topic: TOPIC,
      fromBeginning: true,
      onAlert: (a) => void withoutV2.push(a),
      onUndecodable: (err) => void undecodable.push(err),
    });
    const updated = await runAlertConsumer({ brokers, groupId: `evolution-example-v2-${run}`, topic: TOPIC, fromBeginning: true, schemaDir: join(dir, 'dmarc.alerts'), onAlert: (a) => void withV2.push(a) });
    try {
      await waitFor('the example consumers through the three messages', () => (undecodable.length === 2 && withoutV2.length === 1 && withV2.length === 3 ? true : undefined));
      expect(withoutV2.map((a) => a.rule)).toEqual(['new_source']);
      expect(undecodable.map((e) => e.reason)).toEqual(['unknown-schema', 'unknown-schema']);
      expect(undecodable[0].message).toMatch(/^written with a schema this consumer does not have \(dmarc\.alerts\/v2, fingerprint [0-9a-f]{16}…\): add its \.avsc file$/);
      expect(withV2.map((a) => [a.rule, a.severity])).toEqual([
        ['unknown', 'unknown'],
        ['spoofing', 'high'],
        ['new_source', 'medium'],
      ]);
    } finally {
      await Promise.all([repoOnly.stop(), updated.stop()]);
    }
  });

  it('the example decoder reads what the platform writes today, and refuses a message without a fingerprint', () => {
    const contracts = Contracts.load();
    const encoded = contracts.encode('dmarc.alerts', alert('dns_weakened', 'critical'));
    const decoder = new AlertDecoder(join(findSchemasDir(), 'dmarc.alerts'));
    expect(decoder.decode(encoded.value, encoded.headers)).toMatchObject({ writer: 'dmarc.alerts/v1', alert: { rule: 'dns_weakened', severity: 'critical', evidence: { failingMessages: 42 } } });
    expect(() => decoder.decode(encoded.value, {})).toThrow('no avro-fingerprint header');
    expect(() => decoder.decode(Buffer.from([0xff, 0xff]), encoded.headers)).toThrow(/^the bytes do not parse as dmarc\.alerts\/v1/);
  });
});
