// The policy per data type for each change the platform announces: which cache entries a change makes stale,
// as data (an InvalidationPlan), decided from the event alone. ARCHITECTURE "Cache layers and the policy per data
// type" is the source; the key conventions every reader of the cache follows are in this library's README.
import type { CacheScope, CacheStrategy } from '@dmarc/cache';
import { TOPICS, type AggregatesUpdated, type ConfigChange, type DnsChange } from '@dmarc/contracts';
import { normalizeName, sharedKey } from '@dmarc/dns-cache';

export const CONFIG_CHANGES_TOPIC = TOPICS.configChanges;
export const DNS_CHANGES_TOPIC = TOPICS.dnsChanges;
export const AGGREGATES_UPDATED_TOPIC = TOPICS.aggregatesUpdated;

/** A change as consumed, by topic. */
export type ChangeEvent =
  | { topic: typeof CONFIG_CHANGES_TOPIC; value: ConfigChange }
  | { topic: typeof DNS_CHANGES_TOPIC; value: DnsChange }
  | { topic: typeof AGGREGATES_UPDATED_TOPIC; value: AggregatesUpdated };

/** Every entry of `type` in the group: `type:{group}` and `type:{group}:*` (TieredCache.invalidateGroup). */
export interface GroupDrop {
  scope: CacheScope;
  type: string;
  group: string;
}

/** One entry of a TieredCache type (TieredCache.invalidate). */
export interface KeyDrop {
  scope: CacheScope;
  type: string;
  id: string[];
}

/** A write-through entry given its new value (TieredCache.set). */
export interface KeySet extends KeyDrop {
  value: unknown;
}

export interface InvalidationPlan {
  groups: GroupDrop[];
  /**
   * Groups whose entries are kept but stale (TieredCache.refreshGroup): served while refreshed once. For
   * aggregate updates, which make figures older but not wrong; configuration changes drop instead.
   */
  staleGroups: GroupDrop[];
  keys: KeyDrop[];
  sets: KeySet[];
  /**
   * Exact Redis keys of the DNS cache library (@dmarc/dns-cache sharedKey, `global:dns:txt:{name}`), which keeps
   * its answers under its own key scheme, not TieredCache's.
   */
  dnsKeys: string[];
  /** A new domain: look its DMARC and SPF records up, so discovery starts and the shared tier is warm. */
  discover: Array<{ tenantId: string; domain: string }>;
  /** Revoked API keys (ids): their cached authentication is dropped, under the key's hash (looked up). */
  revokedKeys: string[];
  /** Tenant-wide drop asked for (a kind this version does not know, without a domain): not expressible per group. */
  tenantWide?: string;
}

/** How the plan reads the cache's policy table: only the strategy of a type matters here. */
export type StrategyOf = (type: string) => CacheStrategy;

// The tier is no part of a key (cache-key.ts partitionOf uses the tenant id alone), so any tier names the same
// entries; it only sets the budget an entry written here (a write-through type) is held to, in L1 and in the
// tenant's L2 accounting. The events do not say the tenant's tier: the largest one never evicts the tenant's
// entries below its real quota (its own next write through the API, at its tier, trims what is over).
const tenantScope = (tenantId: string): CacheScope => ({ tenantId, tier: 'enterprise' });

/** The types of a tenant's domain, dropped whole when the domain goes or a change of unknown kind names it. */
export const DOMAIN_TYPES = ['policy', 'compliance', 'dashboard', 'trend', 'aggregate'] as const;

/** The DNS cache library's key of a TXT name, or none when the name is not one it would ever have cached. */
function dnsTxtKey(name: string): string | undefined {
  try {
    return sharedKey('TXT', normalizeName(name));
  } catch {
    // A name the DNS cache refuses (`a.com:*`, `x}:tenant:2`) never reached Redis through it.
    return undefined;
  }
}

class PlanBuilder {
  readonly plan: InvalidationPlan = { groups: [], staleGroups: [], keys: [], sets: [], dnsKeys: [], discover: [], revokedKeys: [] };
  constructor(private readonly strategyOf: StrategyOf) {}

  group(scope: CacheScope, type: string, group: string): this {
    this.plan.groups.push({ scope, type, group });
    return this;
  }

  stale(scope: CacheScope, type: string, group: string): this {
    this.plan.staleGroups.push({ scope, type, group });
    return this;
  }

  /** The DNS record `name` (TXT): the DNS cache library's key, and TieredCache's `dns` entry of it. */
  dnsRecord(name: string): this {
    const key = dnsTxtKey(name);
    if (key !== undefined && !this.plan.dnsKeys.includes(key)) this.plan.dnsKeys.push(key);
    this.plan.keys.push({ scope: 'global', type: 'dns', id: [name] });
    return this;
  }

  /** A config entry: set to its new value when its type is write-through, else dropped with its group. */
  config(scope: CacheScope, type: string, group: string, after: string | null): this {
    const value = after === null ? undefined : parseJson(after);
    if (this.strategyOf(type) === 'write-through' && value !== undefined) this.plan.sets.push({ scope, type, id: [group], value });
    else this.group(scope, type, group);
    return this;
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // Not JSON: nothing to write through; the entry is dropped instead.
    return undefined;
  }
}

/** The id of `entity` (`user:{id}`, `api-key:{id}`), or undefined when it names something else. */
function entityId(entity: string, prefix: string): string | undefined {
  return entity.startsWith(`${prefix}:`) && entity.length > prefix.length + 1 ? entity.slice(prefix.length + 1) : undefined;
}

/** What a change makes stale, and what it makes worth loading. Pure: the same event always gives the same plan. */
export function planInvalidation(event: ChangeEvent, strategyOf: StrategyOf): InvalidationPlan {
  const b = new PlanBuilder(strategyOf);
  switch (event.topic) {
    case CONFIG_CHANGES_TOPIC:
      planConfigChange(b, event.value);
      break;
    case DNS_CHANGES_TOPIC: {
      const { tenantId, domain, name } = event.value;
      const scope = tenantScope(tenantId);
      b.dnsRecord(name).group(scope, 'compliance', domain).group(scope, 'dashboard', domain);
      break;
    }
    case AGGREGATES_UPDATED_TOPIC: {
      const scope = tenantScope(event.value.tenantId);
      b.stale(scope, 'dashboard', event.value.domain).stale(scope, 'trend', event.value.domain);
      break;
    }
  }
  return b.plan;
}

function planConfigChange(b: PlanBuilder, change: ConfigChange): void {
  const scope = tenantScope(change.tenantId);
  const d = change.domain;
  switch (change.kind) {
    case 'policy_changed':
      if (d === null) return;
      b.config(scope, 'policy', d, change.after).dnsRecord(`_dmarc.${d}`).group(scope, 'compliance', d).group(scope, 'dashboard', d);
      return;
    case 'sources_changed':
      // The approved sources are judged against the domain's SPF record (TXT at the domain itself).
      if (d === null) return;
      b.dnsRecord(d).group(scope, 'compliance', d).group(scope, 'dashboard', d);
      return;
    case 'domain_added':
      if (d === null) return;
      // A domain added again after its removal may have left "not found" answers behind.
      for (const type of DOMAIN_TYPES) b.group(scope, type, d);
      b.plan.discover.push({ tenantId: change.tenantId, domain: d });
      return;
    case 'domain_removed':
      // DNS answers are shared by every tenant watching the name: they stay.
      if (d === null) return;
      for (const type of DOMAIN_TYPES) b.group(scope, type, d);
      return;
    case 'user_added':
    case 'permissions_changed': {
      const user = change.userId ?? entityId(change.entity, 'user');
      if (user !== undefined) b.group(scope, 'auth', user);
      return;
    }
    case 'api_key_created':
    case 'api_key_revoked': {
      const key = entityId(change.entity, 'api-key');
      if (key !== undefined) b.group(scope, 'auth', `api-key:${key}`);
      if (key !== undefined && change.kind === 'api_key_revoked') b.plan.revokedKeys.push(key);
      return;
    }
    case 'other':
      if (d !== null) {
        for (const type of DOMAIN_TYPES) b.group(scope, type, d);
        b.dnsRecord(`_dmarc.${d}`).dnsRecord(d);
      } else b.plan.tenantWide = change.tenantId;
      return;
  }
}
