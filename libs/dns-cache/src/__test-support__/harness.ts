// One cache over the fake upstream, the in-memory L2 and a manual clock; more caches can share the same
// L2 and upstream, like processes sharing one Redis.
import { DnsCache, type DnsCacheOptions } from '../dns-cache';
import { MemoryL2 } from '../memory-l2';
import { FakeUpstream } from './fake-upstream';
import { ManualClock } from './manual-clock';

export interface Harness {
  clock: ManualClock;
  upstream: FakeUpstream;
  l2: MemoryL2;
  cache: DnsCache;
  logs: Array<{ level: string; message?: string; fields: object }>;
  /** Another cache (another "process") on the same clock, upstream and L2. */
  another(options?: Partial<DnsCacheOptions>): DnsCache;
}

export function harness(options: Partial<DnsCacheOptions> & { withoutL2?: boolean } = {}): Harness {
  const clock = new ManualClock();
  const upstream = new FakeUpstream((ms) => clock.sleep(ms), () => clock.now());
  const l2 = new MemoryL2(clock);
  const logs: Harness['logs'] = [];
  const logger = {
    info: (fields: object, message?: string) => logs.push({ level: 'info', message, fields }),
    warn: (fields: object, message?: string) => logs.push({ level: 'warn', message, fields }),
  };
  const { withoutL2, ...rest } = options;
  const make = (extra: Partial<DnsCacheOptions> = {}): DnsCache =>
    new DnsCache({ upstream, clock, logger, l2: withoutL2 ? undefined : l2, ...rest, ...extra });
  return { clock, upstream, l2, logs, cache: make(), another: make };
}
