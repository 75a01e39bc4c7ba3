import type { BatchHandler, ConsumeOptions } from '@dmarc/bus';
import { defineConfig, int } from '@dmarc/config';

/**
 * How a service's consumer takes its messages, with the same two settings in every service: in batches of up
 * to BATCH_MAX_MESSAGES (one statement and one publish per batch, the default), or with BATCH_MAX_MESSAGES=0
 * one message at a time, MESSAGE_CONCURRENCY of them in hand per partition. `items` names what is consumed
 * ("inbound reports"), `batchDoes` what a batch saves ("one statement to keep them, one publish").
 */
export function consumerPacingConfig(items: string, batchDoes: string) {
  return defineConfig({
    BATCH_MAX_MESSAGES: int({
      min: 0,
      max: 10_000,
      default: 100,
      description: `${items} of one partition taken as one batch (${batchDoes}); 0 takes one at a time`,
    }),
    MESSAGE_CONCURRENCY: int({
      min: 1,
      max: 256,
      default: 8,
      description: `with BATCH_MAX_MESSAGES=0 only: ${items} of one partition in hand at once`,
    }),
  });
}

export interface ConsumerPacing {
  readonly BATCH_MAX_MESSAGES: number;
  readonly MESSAGE_CONCURRENCY: number;
}

/** The consume options for those settings: the batch fast path, or one at a time with concurrency (the bus refuses both). */
export function consumerPacing<T extends string>(config: ConsumerPacing, batchHandler: BatchHandler<T>): Pick<ConsumeOptions<T>, 'batch' | 'messageConcurrency'> {
  return config.BATCH_MAX_MESSAGES > 0
    ? { batch: { maxMessages: config.BATCH_MAX_MESSAGES, handler: batchHandler } }
    : { messageConcurrency: config.MESSAGE_CONCURRENCY };
}
