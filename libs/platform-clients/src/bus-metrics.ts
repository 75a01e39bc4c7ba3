import type { BusStatsSnapshot } from '@dmarc/bus';
import type { Meter } from '@opentelemetry/api';

/**
 * The bus's counters as Prometheus series on `/metrics`: throughput per topic and consumer group, dead letters
 * per topic, group and error code, and each consumed partition's lag. Read when scraped, from `stats` (undefined
 * until the bus is connected: no series yet).
 */
export function observeBusStats(meter: Meter, stats: () => BusStatsSnapshot | undefined): void {
  const published = meter.createObservableCounter('dmarc_bus_published_messages_total', { description: 'messages this process published, by topic' });
  const consumed = meter.createObservableCounter('dmarc_bus_consumed_messages_total', { description: 'messages this process handled, by topic and consumer group' });
  const deadLettered = meter.createObservableCounter('dmarc_bus_dead_lettered_messages_total', {
    description: 'messages this process sent to a dead-letter topic, by source topic, consumer group and error code',
  });
  const lag = meter.createObservableGauge('dmarc_consumer_lag_messages', {
    description: 'messages in a partition after the last one this process finished (high watermark at the last fetch)',
  });
  meter.addBatchObservableCallback(
    (result) => {
      const snapshot = stats();
      if (!snapshot) return;
      for (const p of snapshot.published) result.observe(published, p.messages, { topic: p.topic });
      for (const c of snapshot.consumed) result.observe(consumed, c.messages, { topic: c.topic, group: c.group });
      for (const d of snapshot.deadLettered) result.observe(deadLettered, d.messages, { topic: d.topic, group: d.group, code: d.code });
      for (const l of snapshot.lag) result.observe(lag, l.lag, { topic: l.topic, group: l.group, partition: String(l.partition) });
    },
    [published, consumed, deadLettered, lag],
  );
}
