import { type LogEntry, logLevel, type logCreator } from 'kafkajs';
import type { BusLogger } from '../logger';

export type KafkaLogLevel = 'nothing' | 'error' | 'warn';

export const KAFKAJS_LOG_LEVELS: Record<KafkaLogLevel, logLevel> = {
  nothing: logLevel.NOTHING,
  error: logLevel.ERROR,
  warn: logLevel.WARN,
};

// Fields kafkajs attaches that say where a problem is; the rest (stacks, buffers) is noise.
const KEPT_FIELDS = ['broker', 'clientId', 'groupId', 'memberId', 'topic', 'partition', 'retryCount', 'retryTime', 'error'];

/**
 * Routes kafkajs's own log lines through our logger as one-line warnings, never with stacks.
 * kafkajs retries what it logs as errors itself; what we cannot recover from we log ourselves.
 */
export function kafkaLogCreator(logger: BusLogger): logCreator {
  return () =>
    ({ namespace, log }: LogEntry) => {
      const fields: Record<string, unknown> = { kafkajs: namespace };
      for (const name of KEPT_FIELDS) {
        const value = (log as Record<string, unknown>)[name];
        if (value !== undefined) fields[name] = value instanceof Error ? value.message : value;
      }
      logger.warn(fields, `kafkajs ${namespace}: ${String(log.message).replace(/\s*\n\s*/g, ' ')}`);
    };
}
