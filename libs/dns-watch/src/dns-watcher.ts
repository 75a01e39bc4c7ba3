import type { Publisher } from '@dmarc/bus';
import type { Queryable } from '@dmarc/store';
import { observe, type LookupOutcome } from './change-decision';
import { changeMessage, DNS_CHANGES_TOPIC } from './change-message';
import { isDnsName } from './dns-names';
import { DnsWatchError } from './errors';
import { selectRecord } from './record-value';
import { dueTargets, markPublished, unpublishedChanges, writeObservations, type StoredChange, type WatchTarget } from './watch-store';

/**
 * TXT lookups as the watcher needs them: one element per record, its character-strings joined; [] for
 * NXDOMAIN and NODATA; a rejection when the upstream failed (timeout, SERVFAIL), which is not an answer.
 */
export interface TxtResolver {
  txt(name: string): Promise<string[]>;
}

export interface DnsWatcherLogger {
  info(fields: object, message?: string): void;
  warn(fields: object, message?: string): void;
}

export interface DnsWatcherOptions {
  db: Queryable;
  dns: TxtResolver;
  publisher: Publisher;
  logger?: DnsWatcherLogger;
  /** Time between rounds. Default 5 minutes. */
  intervalMs?: number;
  /** Each wait is intervalMs × (1 ± jitter), so replicas and restarts do not fall into step. Default 0.1. */
  jitter?: number;
  /** Lookups in flight at once. Default 8. */
  concurrency?: number;
  /** See DecisionOptions.announceFirstObservation. Default false: first observations are stored silently. */
  announceFirstObservation?: boolean;
  /** Selectors not seen in a report for this long are no longer watched. Default 30 days. */
  selectorMaxAgeMs?: number;
  /** Default Date.now. */
  clock?: () => number;
  /** Default Math.random (jitter only). */
  random?: () => number;
}

type ResolvedOptions = Required<Omit<DnsWatcherOptions, 'db' | 'dns' | 'publisher'>>;

/** What one round did. */
export interface RoundSummary {
  /** Distinct names looked up (each once, however many tenants watch it). */
  lookups: number;
  /** Lookups that failed upstream; their records kept their last known value. */
  failedLookups: number;
  /** Changes found and stored this round. */
  changes: number;
  /** Messages published this round, including changes left unpublished by an earlier round. */
  published: number;
  /** Names left for the next round: stop() was called, or their write failed. */
  skipped: number;
}

const silent: DnsWatcherLogger = { info() {}, warn() {} };
// Unpublished changes are read back in pages of this many.
const FLUSH_PAGE = 500;

function resolve(options: DnsWatcherOptions): ResolvedOptions {
  const o: ResolvedOptions = {
    logger: options.logger ?? silent,
    intervalMs: options.intervalMs ?? 300_000,
    jitter: options.jitter ?? 0.1,
    concurrency: options.concurrency ?? 8,
    announceFirstObservation: options.announceFirstObservation ?? false,
    selectorMaxAgeMs: options.selectorMaxAgeMs ?? 30 * 86_400_000,
    clock: options.clock ?? Date.now,
    random: options.random ?? Math.random,
  };
  const check = (ok: boolean, field: string, rule: string) => {
    if (!ok) throw new DnsWatchError('DNS_WATCH_INVALID_OPTIONS', `${field} must be ${rule}`, field);
  };
  check(Number.isFinite(o.intervalMs) && o.intervalMs >= 1000, 'intervalMs', 'at least 1000');
  check(o.jitter >= 0 && o.jitter < 1, 'jitter', 'in [0, 1)');
  check(Number.isInteger(o.concurrency) && o.concurrency >= 1, 'concurrency', 'a positive integer');
  check(Number.isFinite(o.selectorMaxAgeMs) && o.selectorMaxAgeMs > 0, 'selectorMaxAgeMs', 'positive');
  return o;
}

/**
 * Re-reads every monitored domain's DMARC, SPF and known DKIM records on a schedule and publishes
 * dmarc.dns.changes when one appears, changes or disappears.
 *
 * A round: publish changes an earlier round stored but did not publish; read the records due (never looked
 * at, or checked before the last round); look each distinct name up once (at most `concurrency` at a time),
 * decide per tenant (`observe`), write the state rows and the changes of the name in one statement, publish
 * the changes, mark them published. A crash after the write republishes on the next round: a message may
 * come twice, with the same detectedAt, never not at all. Rounds run one at a time.
 */
export class DnsWatcher {
  readonly #db: Queryable;
  readonly #dns: TxtResolver;
  readonly #publisher: Publisher;
  readonly #o: ResolvedOptions;
  #rounds: Promise<unknown> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;
  #running = false;
  // Set by stop(): the round in progress finishes the names in hand and leaves the others due.
  #draining = false;

  constructor(options: DnsWatcherOptions) {
    this.#db = options.db;
    this.#dns = options.dns;
    this.#publisher = options.publisher;
    this.#o = resolve(options);
  }

  /** Starts the schedule: a first round soon (within jitter × interval), then one per interval. Idempotent. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#schedule(this.#o.intervalMs * this.#o.jitter * this.#o.random());
  }

  /** Stops the schedule and waits for the round in progress, which checks no further name. */
  async stop(): Promise<void> {
    this.#running = false;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#draining = true;
    try {
      await this.#rounds;
    } finally {
      this.#draining = false;
    }
  }

  /**
   * One round at `now` (after any round in progress). Rejects only when the records due cannot be read;
   * a failing lookup, write or publish is logged and left for the next round.
   */
  runOnce(now: number = this.#o.clock()): Promise<RoundSummary> {
    const round = this.#rounds.then(() => this.#round(now));
    this.#rounds = round.catch(() => undefined);
    return round;
  }

  #schedule(delayMs: number): void {
    this.#timer = setTimeout(() => {
      this.runOnce()
        .catch((err: unknown) => this.#o.logger.warn({ err }, 'dns watch: round failed; trying again next round'))
        .finally(() => {
          if (this.#running) this.#schedule(this.#o.intervalMs * (1 + this.#o.jitter * (2 * this.#o.random() - 1)));
        });
    }, delayMs);
    this.#timer.unref();
  }

  async #round(now: number): Promise<RoundSummary> {
    const summary: RoundSummary = { lookups: 0, failedLookups: 0, changes: 0, published: 0, skipped: 0 };
    summary.published = await this.#flush(now);
    const byName = this.#group(await dueTargets(this.#db, now, now - this.#o.selectorMaxAgeMs));
    // The earliest the next round can start, so each round checks every name; a second watcher (a replica)
    // whose round comes sooner finds the names done and skips them.
    const nextCheckAt = now + this.#o.intervalMs * (1 - this.#o.jitter);
    let writeErrors = 0;
    const names = [...byName.keys()];
    let next = 0;
    const worker = async () => {
      while (next < names.length) {
        const name = names[next++];
        if (this.#draining) {
          summary.skipped++;
          continue;
        }
        const outcome = await this.#lookup(name);
        summary.lookups++;
        if (!outcome.ok) summary.failedLookups++;
        try {
          const stored = await this.#record(name, byName.get(name) as WatchTarget[], outcome, now, nextCheckAt);
          summary.changes += stored.length;
          // Not `+= await`: that reads the total before the await and loses what other workers added meanwhile.
          const published = await this.#publish(stored, now);
          summary.published += published;
        } catch (err) {
          summary.skipped++;
          // The database is likely out for every name: one line per round, not one per name.
          if (writeErrors++ === 0) this.#o.logger.warn({ err, name }, 'dns watch: could not store a lookup; the name stays due');
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#o.concurrency, names.length) }, worker));
    if (writeErrors > 1) this.#o.logger.warn({ names: writeErrors }, 'dns watch: lookups not stored this round');
    return summary;
  }

  #group(targets: WatchTarget[]): Map<string, WatchTarget[]> {
    const byName = new Map<string, WatchTarget[]>();
    let invalid = 0;
    for (const target of targets) {
      // Domains come from reports too; a name that is no DNS name is never sent upstream.
      if (!isDnsName(target.name)) {
        invalid++;
        continue;
      }
      const list = byName.get(target.name);
      if (list) list.push(target);
      else byName.set(target.name, [target]);
    }
    if (invalid > 0) this.#o.logger.info({ invalid }, 'dns watch: monitored names that are not DNS names were not looked up');
    return byName;
  }

  async #lookup(name: string): Promise<{ ok: true; txt: string[] } | { ok: false; error: unknown }> {
    try {
      return { ok: true, txt: await this.#dns.txt(name) };
    } catch (error) {
      return { ok: false, error };
    }
  }

  async #record(name: string, targets: WatchTarget[], lookup: { ok: true; txt: string[] } | { ok: false; error: unknown }, now: number, nextCheckAt: number): Promise<StoredChange[]> {
    let failureLogged = false;
    const items = targets.map((target) => {
      const outcome: LookupOutcome = lookup.ok ? { ok: true, value: selectRecord(target.recordType, lookup.txt) } : lookup;
      const observation = observe(target.recordType, target.state, outcome, now, nextCheckAt, this.#o);
      // Once per outage of the name, whichever of its tenants' rows saw it begin.
      if (observation.failureStarted && !failureLogged && !lookup.ok) {
        failureLogged = true;
        this.#o.logger.warn({ name, err: lookup.error }, 'dns watch: lookup failed; keeping the last known records and retrying next round');
      }
      return { target, observation };
    });
    if (items.some((i) => i.observation.recovered)) this.#o.logger.info({ name }, 'dns watch: lookups answer again');
    return writeObservations(this.#db, name, items);
  }

  // Resolves with how many were published; a failed publish leaves them stored for the next round.
  async #publish(changes: StoredChange[], now: number): Promise<number> {
    if (changes.length === 0) return 0;
    try {
      await this.#publisher.publish(DNS_CHANGES_TOPIC, changes.map(changeMessage));
    } catch (err) {
      this.#o.logger.warn({ err, changes: changes.length }, 'dns watch: publish failed; the changes are stored and go out next round');
      return 0;
    }
    await markPublished(
      this.#db,
      changes.map((c) => c.id),
      now,
    );
    return changes.length;
  }

  async #flush(now: number): Promise<number> {
    let published = 0;
    for (;;) {
      const page = await unpublishedChanges(this.#db, FLUSH_PAGE);
      if (page.length === 0) return published;
      const sent = await this.#publish(page, now);
      published += sent;
      if (sent < page.length || page.length < FLUSH_PAGE) return published;
    }
  }
}
