/**
 * An example consumer of dmarc.alerts, written as a team outside the platform would write it: kafkajs, avsc, and the
 * schema files of this folder copied next to it (v1.avsc, and every later vN.avsc as it is published). Nothing of
 * the platform's own code. See schemas/README.md, "dmarc.alerts for consumers".
 *
 *   KAFKA_BROKERS=127.0.0.1:9092 npx tsx schemas/dmarc.alerts/example-consumer.ts
 *
 * prints each alert as one JSON line and each message it cannot read as one line on stderr.
 *
 * What it shows:
 * - The writer's schema is found by the `avro-fingerprint` header (SHA-256 of the schema's canonical form) among the
 *   versions this consumer has, and resolved to the version its code reads (READER_VERSION): a newer writer's
 *   message decodes into the older shape, fields it added dropped, a rule or severity it added read as `unknown`.
 * - A message whose fingerprint it does not have (a version published after this consumer's copy of the schemas)
 *   cannot be read safely: it is not guessed at, it is handed to `onUndecodable` with a clear reason (here: logged
 *   and skipped; a real consumer would park it in its own dead-letter topic and replay it after updating).
 * - At least once: the same alertId may come twice (a re-publication after a crash); it is handled once.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as avro from 'avsc';
import { Kafka, logLevel, type IHeaders } from 'kafkajs';

/** The shape this consumer's code reads: dmarc.alerts v1. */
export interface AlertV1 {
  alertId: string;
  tenantId: string;
  domain: string;
  rule: 'unknown' | 'spoofing' | 'new_source' | 'failure_spike' | 'dns_weakened' | 'dns_update_failed';
  severity: 'unknown' | 'low' | 'medium' | 'high' | 'critical';
  title: string;
  summary: string;
  evidence: {
    messages: number;
    failingMessages: number;
    failureRate: number | null;
    baselineRate: number | null;
    baselineMessages: number | null;
    thresholds: string | null;
    sources: Array<{ ip: string; ptr: string | null; baseDomain: string | null; sourceKey: string | null; messages: number; failingMessages: number }>;
    sourceCount: number;
    reportIds: string[];
    days: string[];
    dnsRecordType: string | null;
    dnsName: string | null;
    dnsPrevious: string | null;
    dnsCurrent: string | null;
    findings: string[];
  };
  windowStart: number;
  windowEnd: number;
  detectedAt: number;
  traceId: string | null;
}

export const READER_VERSION = 1;

export type UndecodableReason = 'missing-fingerprint' | 'unknown-schema' | 'malformed';

/** A message this consumer cannot read, and why. */
export class UndecodableAlertError extends Error {
  constructor(
    readonly reason: UndecodableReason,
    message: string,
  ) {
    super(message);
    this.name = 'UndecodableAlertError';
  }
}

interface Version {
  id: string;
  type: avro.Type;
}

/** Decodes dmarc.alerts values of every version found in `schemaDir` into the shape of version `readerVersion`. */
export class AlertDecoder {
  private readonly byFingerprint = new Map<string, Version>();
  private readonly reader: Version;
  private readonly resolvers = new Map<string, avro.Resolver>();

  constructor(schemaDir: string, readerVersion = READER_VERSION) {
    for (const file of readdirSync(schemaDir).filter((f) => /^v\d+\.avsc$/.test(f))) {
      // Unions are read unwrapped (a nullable string is a string or null), as the platform writes them.
      const type = avro.Type.forSchema(JSON.parse(readFileSync(join(schemaDir, file), 'utf8')), { wrapUnions: 'never' });
      // SHA-256 of the Parsing Canonical Form, as the avro-fingerprint header carries it.
      const fingerprint = type.fingerprint('sha256').toString('hex');
      this.byFingerprint.set(fingerprint, { id: `dmarc.alerts/${file.replace('.avsc', '')}`, type });
    }
    const reader = [...this.byFingerprint.values()].find((v) => v.id === `dmarc.alerts/v${readerVersion}`);
    if (!reader) throw new Error(`no v${readerVersion}.avsc in ${schemaDir}`);
    this.reader = reader;
  }

  /**
   * @throws UndecodableAlertError: no fingerprint header, a fingerprint of a version this consumer does not have
   *   (update its copy of the schemas), or bytes that do not parse.
   */
  decode(value: Buffer | null, headers: IHeaders | undefined): { alert: AlertV1; writer: string } {
    const fingerprint = header(headers, 'avro-fingerprint');
    if (!fingerprint) throw new UndecodableAlertError('missing-fingerprint', 'no avro-fingerprint header');
    const writer = this.byFingerprint.get(fingerprint.toLowerCase());
    if (!writer) {
      const claimed = header(headers, 'avro-schema') ?? 'no avro-schema header';
      throw new UndecodableAlertError('unknown-schema', `written with a schema this consumer does not have (${claimed}, fingerprint ${fingerprint.slice(0, 16)}…): add its .avsc file`);
    }
    if (!value) throw new UndecodableAlertError('malformed', 'the message has no value');
    try {
      const alert = (writer === this.reader ? this.reader.type.fromBuffer(value) : this.reader.type.fromBuffer(value, this.resolver(writer))) as AlertV1;
      return { alert, writer: writer.id };
    } catch (err) {
      throw new UndecodableAlertError('malformed', `the bytes do not parse as ${writer.id}: ${(err as Error).message}`);
    }
  }

  private resolver(writer: Version): avro.Resolver {
    let resolver = this.resolvers.get(writer.id);
    if (!resolver) {
      resolver = this.reader.type.createResolver(writer.type);
      this.resolvers.set(writer.id, resolver);
    }
    return resolver;
  }
}

function header(headers: IHeaders | undefined, name: string): string | undefined {
  const value = headers?.[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined ? undefined : first.toString();
}

export interface AlertConsumerOptions {
  brokers: string[];
  groupId: string;
  /** Default dmarc.alerts. */
  topic?: string;
  /** Where the .avsc files are; default this folder. */
  schemaDir?: string;
  fromBeginning?: boolean;
  onAlert(alert: AlertV1, meta: { writer: string; partition: number; offset: string }): Promise<void> | void;
  /** A message that cannot be read; by default logged to stderr. Either way, consumption goes on. */
  onUndecodable?(error: UndecodableAlertError, meta: { partition: number; offset: string; value: Buffer | null }): Promise<void> | void;
}

/** Consumes alerts until `stop()`; each alertId is handled once per process (the last 10,000 remembered). */
export async function runAlertConsumer(options: AlertConsumerOptions): Promise<{ stop(): Promise<void> }> {
  const decoder = new AlertDecoder(options.schemaDir ?? __dirname);
  const kafka = new Kafka({ clientId: 'alert-consumer-example', brokers: options.brokers, logLevel: logLevel.WARN });
  const consumer = kafka.consumer({ groupId: options.groupId });
  const seen = new Set<string>();
  await consumer.connect();
  await consumer.subscribe({ topic: options.topic ?? 'dmarc.alerts', fromBeginning: options.fromBeginning ?? false });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      const meta = { partition, offset: message.offset };
      let decoded: { alert: AlertV1; writer: string };
      try {
        decoded = decoder.decode(message.value, message.headers);
      } catch (err) {
        if (!(err instanceof UndecodableAlertError)) throw err;
        if (options.onUndecodable) await options.onUndecodable(err, { ...meta, value: message.value });
        else console.error(`alert at ${partition}/${message.offset} skipped: ${err.reason}: ${err.message}`);
        return;
      }
      if (seen.has(decoded.alert.alertId)) return;
      await options.onAlert(decoded.alert, { ...meta, writer: decoded.writer });
      seen.add(decoded.alert.alertId);
      if (seen.size > 10_000) seen.delete(seen.values().next().value as string);
    },
  });
  return { stop: () => consumer.disconnect() };
}

if (require.main === module) {
  const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
  runAlertConsumer({
    brokers,
    groupId: process.env.GROUP_ID ?? 'alert-consumer-example',
    fromBeginning: true,
    onAlert: (alert) => console.log(JSON.stringify({ severity: alert.severity, rule: alert.rule, domain: alert.domain, title: alert.title, alertId: alert.alertId })),
  }).then(
    ({ stop }) => process.once('SIGINT', () => void stop().then(() => process.exit(0))),
    (err: Error) => {
      console.error(`alert consumer: ${err.message}`);
      process.exit(1);
    },
  );
}
