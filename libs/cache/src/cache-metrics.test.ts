// The cache's counters as a service's /metrics shows them: reads per answering tier and type.
import { MeterProvider, MetricReader, type DataPoint } from '@opentelemetry/sdk-metrics';
import { InProcessBroadcast } from './broadcast';
import { observeCacheStats } from './cache-metrics';
import { MemoryCacheL2 } from './memory-l2';
import { TieredCache } from './tiered-cache';

class CollectingReader extends MetricReader {
  protected async onShutdown(): Promise<void> {}
  protected async onForceFlush(): Promise<void> {}
}

async function points(reader: CollectingReader, name: string): Promise<Array<DataPoint<number>>> {
  const { resourceMetrics } = await reader.collect();
  const metric = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === name);
  return (metric?.dataPoints ?? []) as Array<DataPoint<number>>;
}

describe('observeCacheStats', () => {
  it('exports reads by the tier that answered and the data type, and the loads', async () => {
    const l2 = new MemoryCacheL2();
    const broadcast = new InProcessBroadcast();
    const a = new TieredCache({ l2, broadcast });
    const b = new TieredCache({ l2, broadcast });
    const reader = new CollectingReader();
    const provider = new MeterProvider({ readers: [reader] });
    observeCacheStats(provider.getMeter('test'), () => b.stats());
    const scope = { tenantId: 't1', tier: 'business' } as const;
    try {
      await a.getOrLoad(scope, 'dashboard', ['example.com', 'summary'], async () => 1); // a loads, L2 now holds it
      await b.getOrLoad(scope, 'dashboard', ['example.com', 'summary'], async () => 2); // b: L2 hit
      await b.getOrLoad(scope, 'dashboard', ['example.com', 'summary'], async () => 3); // b: L1 hit
      await b.getOrLoad(scope, 'trend', ['example.com'], async () => 4); // b: a load
      const reads = await points(reader, 'dmarc_cache_reads_total');
      const of = (tier: string, type: string) => reads.find((p) => p.attributes.tier === tier && p.attributes.type === type)?.value;
      expect([of('l1', 'dashboard'), of('l2', 'dashboard'), of('source', 'dashboard')]).toEqual([1, 1, 0]);
      expect([of('l1', 'trend'), of('l2', 'trend'), of('source', 'trend')]).toEqual([0, 0, 1]);
      expect((await points(reader, 'dmarc_cache_loads_total')).find((p) => p.attributes.type === 'trend')?.value).toBe(1);
      expect((await points(reader, 'dmarc_cache_degraded'))[0]?.value).toBe(0);
    } finally {
      await a.close();
      await b.close();
      await provider.shutdown();
    }
  });
});
