import type { PolicyTable, TieredCache } from '@dmarc/cache';
import { authCacheId } from '@dmarc/tenant-admin';
import { CacheInvalidationError } from './errors';
import { AGGREGATES_UPDATED_TOPIC, CONFIG_CHANGES_TOPIC, planInvalidation, type ChangeEvent, type InvalidationPlan } from './invalidation-policy';
import { RefreshDebounce } from './refresh-debounce';
import { SequenceTracker } from './sequence-tracker';

export interface CacheInvalidatorLogger {
  warn(fields: object, message: string): void;
}

export interface CacheInvalidatorDeps {
  cache: TieredCache;
  /** The cache's policy table (the strategy of each type decides drop or write-through). */
  policies: PolicyTable;
  /** Deletes exact Redis keys: the DNS cache library's, which TieredCache does not name (RedisCacheL2.delete). */
  deleteL2Keys(keys: readonly string[]): Promise<unknown>;
  /**
   * Tells every process those DNS keys were dropped (the invalidation broadcast), after the delete: the DNS
   * service forgets its in-process copies (@dmarc/dns-cache forgetAnnouncedKeys) instead of serving them to
   * their TTL. Best effort: a process that misses it keeps the answer at most its TTL.
   */
  announceDnsDrops?(keys: readonly string[]): Promise<unknown>;
  /**
   * The stored hash of an API key by id (@dmarc/tenant-admin apiKeyHashOf): a revoked key's cached
   * authentication lives under its hash (authCacheId), which the event does not carry.
   */
  keyHashOf?(keyId: string): Promise<string | undefined>;
  /** Looks a new domain's records up (DNS discovery), landing the answers in the shared tier. */
  discover?(domain: string, tenantId: string): Promise<void>;
  logger?: CacheInvalidatorLogger;
  /**
   * dmarc.aggregates.updated drops a domain's dashboard and trend entries at most once per this window (the
   * first at once, the rest folded into one at the window's end: see RefreshDebounce). 0: every one at once.
   */
  aggregateRefreshMs?: number;
}

export interface AppliedChange {
  /** False when the change was older than one already applied for its key: nothing was done. */
  applied: boolean;
  plan: InvalidationPlan;
  /** A new domain's DNS lookups failed (logged; not retried: the DNS watcher will look at it). */
  discoveryFailed?: boolean;
  /** Folded into the domain's next drop (aggregate updates inside its refresh window). */
  deferred?: boolean;
}

/**
 * Applies each change's plan to the caches: TieredCache drops (L2, then every process's L1 through the
 * broadcast), write-through sets, the DNS cache library's keys, discovery of new domains. Idempotent: a plan
 * applied twice drops what is already gone. Throws a retriable error when Redis did not take it, so the
 * consumer leaves the message uncommitted and applies it again.
 */
export class CacheInvalidator {
  private readonly sequences = new SequenceTracker();
  private readonly aggregateRefresh: RefreshDebounce;

  constructor(private readonly deps: CacheInvalidatorDeps) {
    this.aggregateRefresh = new RefreshDebounce(deps.aggregateRefreshMs ?? 0, (key, error) =>
      deps.logger?.warn({ key, error: error instanceof Error ? error.message : String(error) }, 'a folded aggregate refresh failed; the entries expire by their TTL'),
    );
  }

  async apply(event: ChangeEvent): Promise<AppliedChange> {
    const plan = planInvalidation(event, (type) => this.deps.policies.of(type).strategy);
    if (event.topic === AGGREGATES_UPDATED_TOPIC) {
      let ran = false;
      await this.aggregateRefresh.submit(`${event.value.tenantId}:${event.value.domain}`, async () => {
        ran = true;
        await this.applyPlan(plan);
      });
      return { applied: true, plan, deferred: !ran };
    }
    // Only config changes carry a sequence; DNS changes are hints whose repetition drops again, harmlessly.
    const ordered = event.topic === CONFIG_CHANGES_TOPIC ? { key: `${event.value.tenantId}:${event.value.domain ?? ''}`, sequence: event.value.sequence } : undefined;
    if (ordered && this.sequences.isStale(ordered.key, ordered.sequence)) return { applied: false, plan };
    const discoveryFailed = await this.applyPlan(plan);
    if (ordered) this.sequences.applied(ordered.key, ordered.sequence);
    return { applied: true, plan, discoveryFailed };
  }

  /** Runs the folded aggregate refreshes now (graceful stop): none waits out its window in a stopped process. */
  flush(): Promise<void> {
    return this.aggregateRefresh.flush();
  }

  /** Drops and sets what the plan names; true when a new domain's discovery failed. */
  private async applyPlan(plan: InvalidationPlan): Promise<boolean> {
    const { cache } = this.deps;
    for (const s of plan.sets) await cache.set(s.scope, s.type, s.id, s.value);
    for (const k of plan.keys) await cache.invalidate(k.scope, k.type, k.id);
    for (const g of plan.groups) await cache.invalidateGroup(g.scope, g.type, g.group);
    for (const g of plan.staleGroups) await cache.refreshGroup(g.scope, g.type, g.group);
    for (const id of plan.revokedKeys) {
      // The API drops this entry itself after the commit; this is for a process that died before it did.
      const hash = await this.deps.keyHashOf?.(id);
      if (hash !== undefined) await cache.invalidate('global', 'auth', authCacheId(hash));
    }
    if (plan.dnsKeys.length > 0) {
      try {
        await this.deps.deleteL2Keys(plan.dnsKeys);
      } catch (cause) {
        throw new CacheInvalidationError('CACHE_INVALIDATION_L2_UNAVAILABLE', `deleting ${plan.dnsKeys.join(', ')} from Redis failed`, { cause });
      }
      await this.deps.announceDnsDrops?.(plan.dnsKeys).catch(() => undefined);
    }
    // TieredCache keeps going without Redis (and replays the drops later, in this process only): a consumer must
    // not commit a change Redis never saw, or a restart would lose it.
    if (!cache.stats().l2Available) throw new CacheInvalidationError('CACHE_INVALIDATION_L2_UNAVAILABLE', 'Redis is unavailable: the change is applied again later');
    if (plan.tenantWide !== undefined) {
      this.deps.logger?.warn({ tenantId: plan.tenantWide }, 'a tenant-wide change of a kind this version does not know: entries expire by their TTL');
    }
    let discoveryFailed = false;
    for (const { domain, tenantId } of plan.discover) {
      if (!this.deps.discover) continue;
      try {
        await this.deps.discover(domain, tenantId);
      } catch (error) {
        // Warming is best effort: a domain whose DNS does not answer must not hold back every other change of its
        // partition, and the DNS watcher reads the new domain from the domains table at its next round anyway.
        discoveryFailed = true;
        this.deps.logger?.warn({ tenantId, domain, error: error instanceof Error ? error.message : String(error) }, 'DNS discovery of a new domain failed; the watcher will look again');
      }
    }
    return discoveryFailed;
  }
}

/** Resolves a DNS name and type through the shared DNS cache (@dmarc/dns-cache DnsCache.resolve). */
export type DnsResolve = (name: string, type: 'TXT') => Promise<unknown>;

/**
 * Discovery of a new domain over the DNS cache: its DMARC record (`_dmarc.{domain}`) and its SPF record (TXT at the
 * domain) are looked up once, so the answers sit in the shared tier before the first report or dashboard needs
 * them. The DNS watcher takes the domain from the domains table at its next round and follows it from then on.
 */
export function discoverOverDnsCache(resolve: DnsResolve): (domain: string) => Promise<void> {
  return async (domain) => {
    await Promise.all([resolve(`_dmarc.${domain}`, 'TXT'), resolve(domain, 'TXT')]);
  };
}
