import { Kafka, type KafkaConfig, logLevel } from 'kafkajs';
import { backoffDelay, sleep } from '../backoff';
import { BusClosedError, ConnectError, messageOf } from '../errors';
import type { BusLogger } from '../logger';

export interface ConnectRetryOptions {
  /** Default 500 ms. */
  initialMs?: number;
  /** Default 10 s. */
  maxMs?: number;
  /** Default Infinity: a service waits for Kafka (and says so) rather than crash-looping. */
  maxAttempts?: number;
}

/**
 * Waits until a broker answers. Each attempt is one probe connection with kafkajs's own retries
 * and logs switched off, so an outage shows as one clear line per attempt instead of kafkajs's
 * retry chatter.
 */
export async function waitForBrokers(
  config: Pick<KafkaConfig, 'brokers' | 'clientId' | 'ssl' | 'sasl' | 'connectionTimeout'> & { brokers: string[] },
  retry: ConnectRetryOptions,
  logger: BusLogger,
  signal?: AbortSignal,
): Promise<void> {
  const backoff = { initialMs: retry.initialMs ?? 500, maxMs: retry.maxMs ?? 10_000, factor: 2 };
  const maxAttempts = retry.maxAttempts ?? Infinity;
  const probe = new Kafka({ ...config, clientId: `${config.clientId}-probe`, retry: { retries: 0 }, logLevel: logLevel.NOTHING });
  const where = config.brokers.join(',');
  for (let attempt = 1; ; attempt++) {
    const admin = probe.admin();
    try {
      await admin.connect();
      await admin.disconnect();
      if (attempt > 1) logger.info({ brokers: where, attempts: attempt }, `kafka reachable at ${where}`);
      return;
    } catch (error) {
      await admin.disconnect().catch(() => undefined);
      if (attempt >= maxAttempts) throw new ConnectError(config.brokers, attempt, { cause: error });
      const retryInMs = backoffDelay(attempt, backoff);
      logger.warn(
        { brokers: where, attempt, retryInMs, error: messageOf(error) },
        `kafka unreachable at ${where} (attempt ${attempt}), retrying in ${retryInMs} ms: ${messageOf(error)}`,
      );
      if (!(await sleep(retryInMs, signal))) throw new BusClosedError('kafka bus (closed while connecting)');
    }
  }
}
