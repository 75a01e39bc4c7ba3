// The real stack for integration tests: DnsCache → DnsClient (UDP, TCP on truncation) → the loopback test
// server (@dmarc/testing), with L2 on a real Redis through connectRedisTier, as services/dns wires it. Only
// the cache's clock is manual: the TTLs it reads come from the server's answers, and the tests move time
// instead of sleeping. The network (client timeouts, server delays) still runs on real time.
import { DnsClient, type DnsClientOptions } from '@dmarc/dns-wire';
import type { DnsTestServer } from '@dmarc/testing';
import { DnsCache, type DnsCacheOptions } from '../dns-cache';
import { connectRedisTier, type RedisTier } from '../redis-tier';
import { ManualClock } from './manual-clock';

export interface LogLine {
  level: 'info' | 'warn';
  message?: string;
  fields: object;
}

export interface RealStackOptions extends Partial<Omit<DnsCacheOptions, 'upstream' | 'l2' | 'clock' | 'logger'>> {
  redisUrl: string;
  /** The DnsClient's own timeout and retries (servers: the test server). Default 1,500 ms, 0 retries. */
  client?: Omit<DnsClientOptions, 'servers'>;
}

export interface RealStack {
  clock: ManualClock;
  /** The first "process": its cache, its logs. */
  cache: DnsCache;
  logs: LogLine[];
  /** Another process: its own L1, DnsClient and Redis connections; the same server, Redis and clock. */
  another(): DnsCache;
  close(): Promise<void>;
}

export function realStack(server: DnsTestServer, options: RealStackOptions): RealStack {
  const { redisUrl, client, ...cacheOptions } = options;
  const clock = new ManualClock(Date.now());
  const logs: LogLine[] = [];
  const logger = {
    info: (fields: object, message?: string) => void logs.push({ level: 'info', message, fields }),
    warn: (fields: object, message?: string) => void logs.push({ level: 'warn', message, fields }),
  };
  const tiers: RedisTier[] = [];
  const caches: DnsCache[] = [];
  const make = (): DnsCache => {
    const tier = connectRedisTier(redisUrl);
    tiers.push(tier);
    const upstream = new DnsClient({ timeoutMs: 1_500, retries: 0, ...client, servers: server.address });
    const cache = new DnsCache({ ...cacheOptions, upstream, l2: tier.l2, clock, logger });
    caches.push(cache);
    return cache;
  };
  const cache = make();
  return {
    clock,
    cache,
    logs,
    another: make,
    async close() {
      for (const c of caches) c.close();
      // Let the last L2 writes (landed after the callers were answered) finish before the connections go.
      await waitUntil('flights to end', () => caches.every((c) => c.stats().inFlight === 0), 3_000);
      await new Promise((r) => setTimeout(r, 20));
      await Promise.all(tiers.map((t) => t.close()));
    },
  };
}

/** Polls `check` on real time (the network is real) until it holds, or fails naming `what`. */
export async function waitUntil(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Lets the real network run for `ms` (to show that nothing happens in that time). */
export const quietFor = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
