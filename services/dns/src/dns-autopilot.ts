// Wiring of the DNS autopilot worker (@dmarc/dns-update) in the dns service: its settings, its alert sink
// (logged until the platform's alert store is connected), and the drop of the cached answer once a new
// record is verified, so enrichment and the watch read the new record, not the one cached before it.
import { connectRedisCache } from '@dmarc/cache';
import { bool, int, type ValueOf } from '@dmarc/config';
import { normalizeName, sharedKey, type DnsCache } from '@dmarc/dns-cache';
import { AutopilotWorker, loggingAlertSink, type AlertSink } from '@dmarc/dns-update';
import type { ServiceContext } from '@dmarc/service-runtime';
import type { Store } from '@dmarc/store';

export const autopilotConfig = {
  DNS_AUTOPILOT: bool({ default: true, description: "run the DNS autopilot worker: approved DMARC policy changes of opted-in domains are written to the domains' DNS" }),
  DNS_AUTOPILOT_POLL_MS: int({ min: 100, max: 60_000, default: 1000, description: 'how often the autopilot looks for due update jobs when it found none' }),
  DNS_AUTOPILOT_MAX_ATTEMPTS: int({ min: 1, max: 100, default: 8, description: 'attempts of one DNS update before it fails and raises an alert' }),
  DNS_AUTOPILOT_RETRY_SECONDS: int({ min: 1, max: 3600, default: 30, description: 'delay before the second attempt; doubled each time (with jitter), at most 30 minutes' }),
  DNS_AUTOPILOT_TIMEOUT_MS: int({ min: 100, max: 60_000, default: 5000, description: 'timeout of each exchange with a primary (the update, each read)' }),
  DNS_AUTOPILOT_ALLOW_INTERNAL_SERVERS: bool({
    default: false,
    description: 'let tenants name loopback, private or link-local primaries (off: the worker would otherwise reach into the platform network for them)',
  }),
};

type AutopilotConfig = { readonly REDIS_URL: string } & { readonly [K in keyof typeof autopilotConfig]: ValueOf<(typeof autopilotConfig)[K]> };

/** Starts the worker when DNS_AUTOPILOT is on; it stops (finishing the jobs in hand) on shutdown. */
export function startAutopilot(ctx: ServiceContext, config: AutopilotConfig, deps: { store: Store; cache: DnsCache; alerts?: AlertSink }): void {
  if (!config.DNS_AUTOPILOT) return;
  const invalidations = connectRedisCache(config.REDIS_URL);
  const worker = new AutopilotWorker({
    db: deps.store,
    alerts: deps.alerts ?? loggingAlertSink(ctx.logger),
    logger: ctx.logger,
    allowInternalServers: config.DNS_AUTOPILOT_ALLOW_INTERNAL_SERVERS,
    maxAttempts: config.DNS_AUTOPILOT_MAX_ATTEMPTS,
    retryBaseMs: config.DNS_AUTOPILOT_RETRY_SECONDS * 1000,
    pollMs: config.DNS_AUTOPILOT_POLL_MS,
    timeoutMs: config.DNS_AUTOPILOT_TIMEOUT_MS,
    onVerified: async ({ name }) => {
      // Redis first, then every process's L1 (this one included), as the cache-invalidator drops a DNS key.
      const key = sharedKey('TXT', normalizeName(name));
      deps.cache.forget(name, 'TXT');
      await invalidations.l2.delete([key]);
      await invalidations.broadcast.publish({ origin: 'dns-autopilot', keys: [key] });
    },
  });
  worker.start();
  ctx.onShutdown(() => invalidations.close());
  ctx.onShutdown(() => worker.stop());
}
