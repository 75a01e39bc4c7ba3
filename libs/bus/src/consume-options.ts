import type { Contracts } from '@dmarc/contracts';
import type { BackoffOptions } from './backoff';
import type { BatchHandler, ConsumeOptions, MessageHandler } from './bus';
import { InvalidBusOptionsError } from './errors';

/** ConsumeOptions with every default applied, checked once when the consumer starts. */
export interface ResolvedConsumeOptions<T extends string> {
  groupId: string;
  topics: readonly T[];
  handler: MessageHandler<T>;
  fromBeginning: boolean;
  attemptsInPlace: number;
  retryBackoff: BackoffOptions;
  pauseBackoff: BackoffOptions;
  maxAttempts: number;
  partitionsConsumedConcurrently: number;
  messageConcurrency: number;
  /** Set when messages go through a batch handler first. */
  batch: { handler: BatchHandler<T>; maxMessages: number } | undefined;
  service: string;
  commitIntervalMs: number;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  maxWaitTimeMs: number;
  minBytes: number;
  onCrash?: (error: Error) => void;
}

export function resolveConsumeOptions<T extends string>(options: ConsumeOptions<T>, contracts: Contracts): ResolvedConsumeOptions<T> {
  const fail = (reason: string): never => {
    throw new InvalidBusOptionsError(`consumer ${options.groupId || '(no group id)'}: ${reason}`);
  };
  if (!options.groupId) fail('groupId is required');
  if (options.topics.length === 0) fail('topics is empty');
  // Fail at start, not on the first message, when a topic has no schema to decode it with.
  for (const topic of options.topics) if (!contracts.hasTopic(topic)) fail(`topic ${topic} has no schema`);
  const resolved: ResolvedConsumeOptions<T> = {
    groupId: options.groupId,
    topics: [...new Set(options.topics)],
    handler: options.handler,
    fromBeginning: options.fromBeginning ?? true,
    attemptsInPlace: options.retry?.attempts ?? 3,
    retryBackoff: { initialMs: options.retry?.initialMs ?? 100, maxMs: options.retry?.maxMs ?? 2_000, factor: 2 },
    pauseBackoff: { initialMs: options.pause?.initialMs ?? 1_000, maxMs: options.pause?.maxMs ?? 30_000, factor: 2 },
    maxAttempts: options.maxAttempts ?? Infinity,
    partitionsConsumedConcurrently: options.partitionsConsumedConcurrently ?? 1,
    messageConcurrency: options.messageConcurrency ?? 1,
    batch: options.batch ? { handler: options.batch.handler, maxMessages: options.batch.maxMessages ?? 100 } : undefined,
    service: options.service ?? options.groupId,
    commitIntervalMs: options.commitIntervalMs ?? 5_000,
    sessionTimeoutMs: options.sessionTimeoutMs ?? 30_000,
    heartbeatIntervalMs: options.heartbeatIntervalMs ?? 3_000,
    maxWaitTimeMs: options.maxWaitTimeMs ?? 500,
    minBytes: options.minBytes ?? 1,
    onCrash: options.onCrash,
  };
  if (!(resolved.attemptsInPlace >= 1)) fail('retry.attempts must be at least 1');
  if (!(resolved.maxAttempts >= 1)) fail('maxAttempts must be at least 1');
  if (!(resolved.partitionsConsumedConcurrently >= 1)) fail('partitionsConsumedConcurrently must be at least 1');
  if (!(Number.isInteger(resolved.messageConcurrency) && resolved.messageConcurrency >= 1)) fail('messageConcurrency must be an integer of at least 1');
  if (resolved.batch && !(Number.isInteger(resolved.batch.maxMessages) && resolved.batch.maxMessages >= 1)) fail('batch.maxMessages must be an integer of at least 1');
  if (resolved.batch && resolved.messageConcurrency > 1) fail('batch and messageConcurrency > 1 do not go together: a batch already has its messages in hand at once');
  if (!(Number.isInteger(resolved.minBytes) && resolved.minBytes >= 1)) fail('minBytes must be an integer of at least 1');
  if (resolved.heartbeatIntervalMs >= resolved.sessionTimeoutMs) fail('heartbeatIntervalMs must be below sessionTimeoutMs');
  return resolved;
}
