import type { HeaderBag } from '@dmarc/contracts';

export interface StoredRecord {
  key: Buffer | null;
  value: Buffer | null;
  headers: HeaderBag;
}

/** One partition of an in-process topic: an append-only array, and the readers waiting for more. */
export class PartitionLog {
  private readonly records: StoredRecord[] = [];
  private waiters: Array<() => void> = [];

  get end(): number {
    return this.records.length;
  }

  append(record: StoredRecord): number {
    this.records.push(record);
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
    return this.records.length - 1;
  }

  at(offset: number): StoredRecord | undefined {
    return this.records[offset];
  }

  /** Resolves when a record exists at `offset`, or when `signal` aborts. */
  waitFor(offset: number, signal: AbortSignal): Promise<void> {
    if (offset < this.records.length || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        signal.removeEventListener('abort', done);
        resolve();
      };
      this.waiters.push(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }
}

/** A topic: partitions chosen by key hash (same key, same partition, same order), round-robin without a key. */
export class InProcessTopic {
  readonly partitions: PartitionLog[];
  private nextUnkeyed = 0;

  constructor(
    readonly name: string,
    partitionCount: number,
  ) {
    this.partitions = Array.from({ length: partitionCount }, () => new PartitionLog());
  }

  partitionFor(key: Buffer | null): number {
    if (key === null) return this.nextUnkeyed++ % this.partitions.length;
    return fnv1a(key) % this.partitions.length;
  }
}

function fnv1a(bytes: Buffer): number {
  let hash = 0x811c9dc5;
  for (const byte of bytes) hash = Math.imul(hash ^ byte, 0x01000193);
  return hash >>> 0;
}
