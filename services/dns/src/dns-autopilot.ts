// Wiring of the DNS autopilot worker (@dmarc/dns-update) in the dns service: its settings, its alert sink
// (the platform's alert store and dmarc.alerts, through @dmarc/threat-detection), and the drop of the cached
// answer once a new record is verified, so enrichment and the watch read the new record, not the one cached
// before it.
import { connectRedisCache } from '@dmarc/cache';
import { bool, int, type ValueOf } from '@dmarc/config';
import { normalizeName, sharedKey, type DnsCache } from '@dmarc/dns-cache';
import type { Publisher } from '@dmarc/bus';
import { AutopilotWorker, type AlertSink, type DnsAlert } from '@dmarc/dns-update';
import type { ServiceContext } from '@dmarc/service-runtime';
import type { Store } from '@dmarc/store';
import { dnsUpdateFailureOf, ThreatDetector } from '@dmarc/threat-detection';

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
export function startAutopilot(ctx: ServiceContext, config: AutopilotConfig, deps: { store: Store; cache: DnsCache; publisher: Publisher }): void {
  if (!config.DNS_AUTOPILOT) return;
  const detector = new ThreatDetector({ db: deps.store, publisher: deps.publisher, logger: ctx.logger });
  const invalidations = connectRedisCache(config.REDIS_URL);
  const worker = new AutopilotWorker({
    db: deps.store,
    alerts: alertStoreSink(detector),
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
  ctx.onShutdown(() => detector.drain());
  ctx.onShutdown(() => worker.stop());
}

/**
 * A failed DNS update as a `dns_update_failed` alert: stored (deduplicated per domain within the rule's window)
 * and published to dmarc.alerts right after; one left unpublished is sent by the alert relay. Resolves once
 * stored, so the worker marks the job alerted only then.
 */
export function alertStoreSink(detector: ThreatDetector, now: () => number = Date.now): AlertSink {
  return {
    async raise(alert: DnsAlert) {
      await detector.raiseDnsUpdateFailed(dnsUpdateFailureOf(alert, now()));
    },
  };
}
