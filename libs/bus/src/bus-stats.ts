/**
 * What a bus has done since it started, for metrics: messages published per topic, messages handled and
 * dead-lettered per topic and consumer group, and each consumed partition's lag. Plain counters, read
 * by whoever exports them (`@dmarc/platform-clients` turns them into Prometheus series); the bus itself
 * depends on no metrics SDK.
 */
export interface BusStatsSnapshot {
  published: Array<{ topic: string; messages: number }>;
  consumed: Array<{ topic: string; group: string; messages: number }>;
  deadLettered: Array<{ topic: string; group: string; code: string; messages: number }>;
  /** Messages in the partition after the last one this process finished (high watermark − next offset). */
  lag: Array<{ topic: string; group: string; partition: number; lag: number }>;
}

const SEP = '\u0000';

export class BusStats {
  private readonly published = new Map<string, number>();
  private readonly consumed = new Map<string, number>();
  private readonly deadLettered = new Map<string, number>();
  private readonly lags = new Map<string, number>();

  recordPublished(topic: string, messages: number): void {
    bump(this.published, topic, messages);
  }

  /** One message finished: handled (`code` undefined) or dead-lettered with the error's code. */
  recordFinished(topic: string, group: string, deadLetterCode?: string): void {
    if (deadLetterCode === undefined) bump(this.consumed, topic + SEP + group, 1);
    else bump(this.deadLettered, topic + SEP + group + SEP + deadLetterCode, 1);
  }

  /** After a partition's message at `offset` finished, with the partition's high watermark as last fetched. */
  recordPosition(topic: string, group: string, partition: number, offset: string, highWatermark: string): void {
    const lag = Number(BigInt(highWatermark) - BigInt(offset) - 1n);
    this.lags.set(topic + SEP + group + SEP + partition, Math.max(0, lag));
  }

  /** A partition this process no longer consumes (rebalanced away, or the consumer closed): no lag of its own. */
  forgetGroup(group: string): void {
    for (const key of this.lags.keys()) if (key.split(SEP)[1] === group) this.lags.delete(key);
  }

  snapshot(): BusStatsSnapshot {
    return {
      published: [...this.published].map(([topic, messages]) => ({ topic, messages })),
      consumed: [...this.consumed].map(([key, messages]) => {
        const [topic, group] = key.split(SEP);
        return { topic, group, messages };
      }),
      deadLettered: [...this.deadLettered].map(([key, messages]) => {
        const [topic, group, code] = key.split(SEP);
        return { topic, group, code, messages };
      }),
      lag: [...this.lags].map(([key, lag]) => {
        const [topic, group, partition] = key.split(SEP);
        return { topic, group, partition: Number(partition), lag };
      }),
    };
  }
}

function bump(map: Map<string, number>, key: string, by: number): void {
  map.set(key, (map.get(key) ?? 0) + by);
}
