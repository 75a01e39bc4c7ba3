import type { AppliedChunk } from '@dmarc/aggregates';
import type { MessageTrace, Publisher } from '@dmarc/bus';
import type { DnsChange } from '@dmarc/contracts';
import type { Queryable, Store } from '@dmarc/store';
import type { AlertCandidate } from './alert-candidate';
import { publishPending, relayUnpublished, traceRefOf } from './alert-publisher';
import { insertAlerts, rememberSources, type StoredAlert, type TraceRef } from './alert-store';
import { addDays, evaluateChunkRules, type DayTotals, type DomainHistory } from './chunk-rules';
import { trafficByDomain, type DomainTraffic, type SourceTraffic } from './chunk-traffic';
import {
  alertedRead,
  dayTotalsRead,
  failingSourcesRead,
  keyOf,
  monitoredRead,
  readAll,
  readOne,
  ruleRowsRead,
  seenKeysRead,
  type MonitoredDomain,
} from './detection-state';
import { dnsUpdateFailedAlert, evaluateDnsChange, type DnsUpdateFailure } from './dns-rules';
import { HourlyKeyBudget } from './hourly-key-budget';
import { defaultThresholds, resolveRuleSettings, type RuleSettings, type StoredRule } from './rule-settings';
import { sourceApproval, sourceKey } from './source-identity';

export interface ThreatDetectorOptions {
  db: Store;
  /** Where dmarc.alerts goes. */
  publisher: Publisher;
  logger: { warn(obj: object, msg: string): void };
  now?: () => number;
  /** Never-seen source keys one domain may bring to the new-source rule per hour (default NEW_SOURCE_KEYS_PER_HOUR). */
  newSourceKeysPerHour?: number;
  /** Runs once the alerts' transaction committed, before they are published: where tests inject a crash. */
  afterCommit?: (alerts: readonly StoredAlert[]) => void | Promise<void>;
}

/** What a pass did: the alerts it stored (deduplicated ones are not among them), and their publish under way. */
export interface DetectionOutcome {
  alerts: StoredAlert[];
  /** Resolves with how many were published (0 when the publish failed: the relay sends them); never rejects. */
  published: Promise<number>;
}

const NOTHING: Promise<number> = Promise.resolve(0);
const NONE: ReadonlySet<string> = new Set();
const DEFAULT_BASELINE_DAYS = defaultThresholds('failure_spike').baselineDays;

// The days of a domain's totals a pass reads: its failing report days, and `baselineDays` before the first of them.
function totalsRange(t: DomainTraffic, baselineDays: number): { tenantId: string; domain: string; from: string; to: string } {
  const days = [...t.failingDays].sort();
  return { tenantId: t.tenantId, domain: t.domain, from: addDays(days[0], -baselineDays), to: days[days.length - 1] };
}

// The keys seen for a domain: those known before the pass, those its read found (and those left out of the rule).
function seenView(...sets: Array<ReadonlySet<string> | undefined>): Pick<ReadonlySet<string>, 'has'> {
  const present = sets.filter((set): set is ReadonlySet<string> => set !== undefined && set.size > 0);
  if (present.length === 0) return NONE;
  if (present.length === 1) return present[0];
  return { has: (key) => present.some((set) => set.has(key)) };
}
const KNOWN_SEEN_MAX = 200_000;
/**
 * Never-seen source keys one domain may bring to the new-source rule in an hour (in this process). Past it the domain
 * is in a flood (a campaign from all over, a report of a million addresses without PTR names): its other new keys are
 * left out of the rule for the rest of the hour, neither asked about nor remembered nor named, so one report cannot
 * make every pass read and write a million rows. Spoofing and the failure spike still count all of its mail.
 */
export const NEW_SOURCE_KEYS_PER_HOUR = 5000;

/**
 * Threat detection in the aggregation path, bypassing every cache: rules evaluated on what was just aggregated,
 * alerts stored (deduplicated per tenant, rule, domain and window) and published right after their commit.
 *
 * Exactly once: the rules run inside aggregation's flush transaction (`checkInFlush`, aggregation's WithinFlush),
 * after its counters are written and on the chunks its ledger took, so a chunk's alerts and remembered sources
 * commit with its counters and its ledger row or not at all, and a redelivered chunk is never checked twice.
 * Never lost: an alert committed but not published (crash, broker outage) is sent by the relay (`relay()`), at
 * least once; alertId tells copies apart.
 */
export class ThreatDetector {
  private readonly now: () => number;
  private readonly publishing = new Set<Promise<number>>();
  private relayTimer: NodeJS.Timeout | undefined;
  /**
   * Source keys known to be in alert_seen_sources, per keyOf(tenant, domain) (read there, or remembered by a
   * committed pass). Being seen is for good, so a key found here needs neither the read nor the insert again: in
   * steady state a pass asks PostgreSQL only about sources it has not met before. Bounded: replaced by an empty map
   * when full (a pass holding the old sets keeps them), then relearned.
   */
  private knownSeen = new Map<string, Set<string>>();
  private knownCount = 0;
  private readonly newKeys: HourlyKeyBudget;

  constructor(private readonly options: ThreatDetectorOptions) {
    this.now = options.now ?? Date.now;
    const perHour = options.newSourceKeysPerHour ?? NEW_SOURCE_KEYS_PER_HOUR;
    this.newKeys = new HourlyKeyBudget(
      perHour,
      this.now,
      (domainId) => {
        const [tenantId, domain] = domainId.split('\u0000');
        options.logger.warn({ tenantId, domain, perHour }, 'new-source rule: too many never-seen sources for the domain this hour; the others are left out until the next hour');
      },
      KNOWN_SEEN_MAX,
    );
  }

  /**
   * Runs the chunk rules inside the transaction that wrote these chunks' counters (aggregation's flush), on the chunks
   * it applied; the alerts are stored in it. Resolves with what to do once it committed: learn the sources remembered
   * and publish the alerts.
   */
  async checkInFlush(tx: Queryable, chunks: readonly AppliedChunk[]): Promise<() => Promise<DetectionOutcome>> {
    const remembered: Array<[string, string]> = [];
    const traffic = trafficByDomain(chunks);
    const alerts = traffic.length > 0 ? await this.evaluateChunks(tx, traffic, remembered) : [];
    return () => {
      // Committed: these are seen for good.
      this.learnSeen(remembered);
      return this.afterCommit(alerts);
    };
  }

  /** Runs the DNS-weakened rule over one dmarc.dns.changes message. */
  async checkDnsChange(change: DnsChange, trace?: MessageTrace): Promise<DetectionOutcome> {
    const domain = change.domain.trim().toLowerCase().replace(/\.$/, '');
    const alerts = await this.options.db.transaction(async (tx) => {
      const [monitored, rules] = await readAll(tx, [monitoredRead([{ tenantId: change.tenantId, domain }]), ruleRowsRead([change.tenantId])] as const);
      if (monitored.size === 0) return [];
      const settings = this.settingsOf([change.tenantId], rules).get(change.tenantId)!;
      const alert = evaluateDnsChange({ ...change, domain }, settings);
      return alert ? insertAlerts(tx, [{ alert, trace: traceRefOf(trace) }]) : [];
    });
    return this.afterCommit(alerts);
  }

  /**
   * Raises the dns_update_failed alert of a DNS update that failed for good (the DNS autopilot's alert sink): with
   * the tenant's settings of the rule (disabled: nothing), one per domain in the dedupe window of `failedAt`, so the
   * same failure raised again (the worker retrying its alert) adds nothing. Resolves once stored.
   */
  async raiseDnsUpdateFailed(failure: DnsUpdateFailure, trace?: MessageTrace): Promise<DetectionOutcome> {
    const alerts = await this.options.db.transaction(async (tx) => {
      const settings = this.settingsOf([failure.tenantId], await readOne(tx, ruleRowsRead([failure.tenantId]))).get(failure.tenantId)!;
      const alert = dnsUpdateFailedAlert(failure, settings);
      return alert ? insertAlerts(tx, [{ alert, trace: traceRefOf(trace) }]) : [];
    });
    return this.afterCommit(alerts);
  }

  /**
   * Stores and publishes alerts another part of the platform built (window included), deduplicated like the rules'
   * own: a candidate whose window already has its alert is dropped. The DNS autopilot has raiseDnsUpdateFailed.
   */
  async raise(alerts: readonly AlertCandidate[], trace?: MessageTrace): Promise<DetectionOutcome> {
    const ref = traceRefOf(trace);
    const stored = await this.options.db.transaction((tx) => insertAlerts(tx, alerts.map((alert) => ({ alert, trace: ref }))));
    return this.afterCommit(stored);
  }

  /** Publishes every alert left unpublished (a crash between commit and publish, a broker outage). */
  relay(): Promise<number> {
    return relayUnpublished(this.options.db, this.options.publisher);
  }

  /** A relay pass now and every `intervalMs`; a failed pass is logged and left to the next. */
  startRelay(intervalMs: number): void {
    this.stopRelay();
    const pass = () =>
      void this.relay().catch((err: unknown) => this.options.logger.warn({ error: err instanceof Error ? err.message : String(err) }, 'relaying unpublished alerts failed; next time'));
    this.relayTimer = setInterval(pass, intervalMs);
    this.relayTimer.unref();
    pass();
  }

  stopRelay(): void {
    if (this.relayTimer) clearInterval(this.relayTimer);
    this.relayTimer = undefined;
  }

  /** Waits for the publishes under way: on shutdown, before the producer closes. */
  async drain(): Promise<void> {
    await Promise.all([...this.publishing]);
  }

  private learnSeen(keys: Iterable<readonly [domainId: string, key: string]>): void {
    for (const [id, key] of keys) {
      if (this.knownCount >= KNOWN_SEEN_MAX) {
        this.knownSeen = new Map();
        this.knownCount = 0;
      }
      let known = this.knownSeen.get(id);
      if (!known) this.knownSeen.set(id, (known = new Set()));
      if (known.has(key)) continue;
      known.add(key);
      this.knownCount++;
    }
  }

  private async evaluateChunks(tx: Queryable, traffic: ReadonlyArray<DomainTraffic<MessageTrace>>, remembered: Array<[string, string]>): Promise<StoredAlert[]> {
    // One round trip for what every pass needs: which domains are monitored, the rules of their tenants, and for the
    // domains with failing mail their day totals (with the default baseline: a tenant with a longer one gets the rest
    // read after) and the alerts of the current window already raised.
    const failing = traffic.filter((t) => t.failingDays.length > 0);
    const [monitored, rules, totals = new Map<string, Map<string, DayTotals>>(), alerted = new Set<string>()] = await readAll(tx, [
      monitoredRead(traffic),
      ruleRowsRead(traffic.map((t) => t.tenantId)),
      failing.length > 0 ? dayTotalsRead(failing.map((t) => totalsRange(t, DEFAULT_BASELINE_DAYS))) : undefined,
      failing.length > 0 ? alertedRead(['spoofing', 'new_source'], failing, this.now()) : undefined,
    ] as const);
    const watched = traffic.filter((t) => monitored.has(keyOf(t.tenantId, t.domain)));
    if (watched.length === 0) return [];
    const settings = this.settingsOf(
      watched.map((t) => t.tenantId),
      rules,
    );
    const histories = await this.histories(tx, watched, monitored, settings, totals, alerted);
    const now = this.now();
    const found: Array<{ alert: AlertCandidate; trace?: TraceRef }> = [];
    const seen: Array<{ tenantId: string; domain: string; key: string; ip: string }> = [];
    for (const t of watched) {
      const result = evaluateChunkRules({ traffic: t, history: histories.get(keyOf(t.tenantId, t.domain))!, settings: settings.get(t.tenantId)!, now });
      const trace = traceRefOf(t.trace);
      found.push(...result.alerts.map((alert) => ({ alert, trace })));
      seen.push(...result.seen.map((s) => ({ tenantId: t.tenantId, domain: t.domain, ...s })));
    }
    const stored = await insertAlerts(tx, found);
    // A new source named by an alert that was stored is known from now on; one whose alert the window swallowed is not.
    const storedKeys = new Set(stored.map((a) => keyOf(a.tenantId, a.rule, a.domain)));
    for (const { alert } of found) {
      if (!alert.names || !storedKeys.has(keyOf(alert.tenantId, alert.rule, alert.domain))) continue;
      seen.push(...alert.names.map((n) => ({ tenantId: alert.tenantId, domain: alert.domain, ...n })));
    }
    const toRemember = seen.filter((s) => !this.knownSeen.get(keyOf(s.tenantId, s.domain))?.has(s.key));
    await rememberSources(tx, toRemember);
    for (const s of toRemember) remembered.push([keyOf(s.tenantId, s.domain), s.key]);
    return stored;
  }

  private settingsOf(tenantIds: readonly string[], rows: ReadonlyMap<string, StoredRule[]>): Map<string, RuleSettings> {
    return new Map(
      [...new Set(tenantIds)].map((tenantId) => [
        tenantId,
        resolveRuleSettings(rows.get(tenantId) ?? [], (rule, error) =>
          this.options.logger.warn({ tenantId, rule, error: error.message, field: error.field }, 'stored alert rule thresholds are invalid; the rule runs with its defaults'),
        ),
      ]),
    );
  }

  // The rest of what each domain's rules need, beyond the pass's first read: the seen keys not known in memory, the
  // baseline days of tenants that look further back than the default, and a spoofable day's failing sources; each
  // read only when something is to be asked.
  private async histories(
    tx: Queryable,
    traffic: ReadonlyArray<DomainTraffic<MessageTrace>>,
    monitored: ReadonlyMap<string, MonitoredDomain>,
    settings: ReadonlyMap<string, RuleSettings>,
    totals: Map<string, Map<string, DayTotals>>,
    alerted: ReadonlySet<string>,
  ): Promise<Map<string, DomainHistory>> {
    const approvals = new Map(traffic.map((t) => [keyOf(t.tenantId, t.domain), sourceApproval(monitored.get(keyOf(t.tenantId, t.domain))!.approved)]));
    // Each domain's source keys not known to be seen, once each (many sources share a provider or a network): the
    // only ones PostgreSQL is asked about.
    const knownOf = new Map<string, ReadonlySet<string> | undefined>();
    const keysOf = new Map<string, string[]>();
    const asked: Array<{ tenantId: string; domain: string; key: string }> = [];
    const flooded = new Map<string, Set<string>>();
    const paused = new Set<string>();
    for (const t of traffic) {
      const id = keyOf(t.tenantId, t.domain);
      const askedBefore = asked.length;
      const known = this.knownSeen.get(id);
      knownOf.set(id, known);
      // Past its budget for the hour: nothing of the domain's goes to the rule, not even the keys.
      if (this.newKeys.spent(id)) {
        paused.add(id);
        continue;
      }
      const options = settings.get(t.tenantId)!.new_source.thresholds;
      const keys = t.sources.map((s) => sourceKey(s, options));
      keysOf.set(id, keys);
      const unknown = new Set<string>();
      for (const key of keys) if (!known?.has(key)) unknown.add(key);
      const budget = this.newKeys.take(id, unknown.size);
      for (const key of unknown) {
        if (asked.length - askedBefore >= budget) {
          (flooded.get(id) ?? flooded.set(id, new Set()).get(id)!).add(key);
          continue;
        }
        asked.push({ tenantId: t.tenantId, domain: t.domain, key });
      }
    }
    const [found = new Map<string, Set<string>>()] = await readAll(tx, [asked.length > 0 ? seenKeysRead(asked) : undefined] as const);
    // Read from committed rows: seen for good, whatever becomes of this pass.
    this.learnSeen([...found].map(([id, keys]) => [...keys].map((key) => [id, key] as const)).flat());
    const failing = traffic.filter((t) => t.failingDays.length > 0);
    const spike = (t: DomainTraffic<MessageTrace>) => settings.get(t.tenantId)!.failure_spike;
    const spoofing = (t: DomainTraffic<MessageTrace>) => settings.get(t.tenantId)!.spoofing;
    // The day totals (read with the default baseline) of the domains whose tenant looks further back.
    const longer = failing.filter((t) => spike(t).enabled && spike(t).thresholds.baselineDays > DEFAULT_BASELINE_DAYS);
    const [more] = await readAll(tx, [longer.length > 0 ? dayTotalsRead(longer.map((t) => totalsRange(t, spike(t).thresholds.baselineDays))) : undefined] as const);
    for (const [id, days] of more ?? []) totals.set(id, days);
    const spoofable = failing.filter((t) => spoofing(t).enabled);
    // Spoofing needs the day's failing sources (to leave the approved ones out), the one read that sums counters per
    // source: only for a day whose failing mail alone reaches the threshold (what unapproved sources send is part of
    // it), and not for a domain already alerted in the window.
    const failingAsked = spoofable
      .filter((t) => !alerted.has(keyOf('spoofing', t.tenantId, t.domain)))
      .flatMap((t) =>
        t.failingDays
          .filter((day) => (totals.get(keyOf(t.tenantId, t.domain))?.get(day)?.failing ?? 0) >= spoofing(t).thresholds.minMessages)
          .map((day) => ({ tenantId: t.tenantId, domain: t.domain, day })),
      );
    const [failingSources = new Map<string, SourceTraffic[]>()] = await readAll(tx, [failingAsked.length > 0 ? failingSourcesRead(failingAsked) : undefined] as const);
    return new Map(
      traffic.map((t) => {
        const id = keyOf(t.tenantId, t.domain);
        const history: DomainHistory = {
          approved: approvals.get(id)!,
          // Keys past the domain's budget pass for seen: the rule leaves them out.
          seenKeys: seenView(knownOf.get(id), found.get(id), flooded.get(id)),
          sourceKeys: keysOf.get(id),
          newSourcesPaused: paused.has(id),
          newSourceAlerted: alerted.has(keyOf('new_source', t.tenantId, t.domain)),
          spoofingAlerted: alerted.has(keyOf('spoofing', t.tenantId, t.domain)),
          failingSourcesByDay: new Map(t.failingDays.map((day) => [day, failingSources.get(keyOf(t.tenantId, t.domain, day)) ?? []])),
          totalsByDay: totals.get(id) ?? new Map(),
        };
        return [id, history];
      }),
    );
  }

  // Published at once, outside the transaction and without holding up the caller: the alerts are safe in PostgreSQL,
  // so the consumer goes on with its next batch (and commits this one's offsets) while the broker acknowledges. A
  // failure leaves the rows to the relay; failing the pass would only make Kafka redeliver chunks already checked.
  private async afterCommit(alerts: StoredAlert[]): Promise<DetectionOutcome> {
    if (alerts.length === 0) return { alerts, published: NOTHING };
    await this.options.afterCommit?.(alerts);
    const published = publishPending(this.options.db, this.options.publisher, { ids: alerts.map((a) => a.id) }).catch((err: unknown) => {
      this.options.logger.warn({ alerts: alerts.length, error: err instanceof Error ? err.message : String(err) }, 'publishing alerts failed; the relay sends them');
      return 0;
    });
    this.publishing.add(published);
    void published.finally(() => this.publishing.delete(published));
    return { alerts, published };
  }
}
