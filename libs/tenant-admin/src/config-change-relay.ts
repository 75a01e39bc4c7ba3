import type { Publisher } from '@dmarc/bus';
import type { Store } from '@dmarc/store';
import { CONFIG_CHANGES_TOPIC, configChangeMessage, type OutboxRow } from './config-changes';

// One relay at a time across every API process: two relays sending overlapping pages could put an
// older change of a domain after a newer one on the topic. A fixed key, distinct from migrate's.
const RELAY_LOCK_KEY = 7_305_514_001;

export interface ConfigChangeRelayOptions {
  db: Store;
  publisher: Publisher;
  logger: { warn(obj: object, msg: string): void };
  /** Rows per publish. Default 200. */
  pageSize?: number;
  now?: () => number;
}

/**
 * Publishes the config_changes outbox to dmarc.config.changes in id order, and marks what the broker
 * took. A row is marked only after its publish resolved, in the same transaction that locked it, so a
 * crash or a broker outage leaves it for the next pass: at least once, never lost.
 */
export class ConfigChangeRelay {
  readonly #o: Required<Omit<ConfigChangeRelayOptions, 'now'>> & { now: () => number };
  #running: Promise<number> | undefined;
  #again = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: ConfigChangeRelayOptions) {
    this.#o = { pageSize: 200, now: Date.now, ...options };
  }

  /**
   * Publishes everything unpublished. Resolves with how many rows this call sent; rejects when a publish
   * or the database fails (the rows stay for the next pass). Calls during a pass run one more pass after
   * it, so a change committed meanwhile is not left waiting for the timer.
   */
  flush(): Promise<number> {
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    const run = (async () => {
      let sent = 0;
      try {
        do {
          this.#again = false;
          for (;;) {
            const page = await this.#pass();
            if (page < 0) return sent; // another process holds the relay; it sends these rows
            sent += page;
            if (page < this.#o.pageSize) break;
          }
        } while (this.#again);
        return sent;
      } finally {
        this.#running = undefined;
      }
    })();
    this.#running = run;
    return run;
  }

  /** Right after a commit: publish soon, without making the request wait for Kafka. Failures are logged and left to the timer. */
  kick(): void {
    this.flush().catch((err: unknown) => this.#o.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'config changes: publish failed; the outbox keeps them for the next pass'));
  }

  /** Passes every `intervalMs`, for rows a failed publish or a crashed process left behind. */
  start(intervalMs: number): void {
    this.stop();
    this.#timer = setInterval(() => this.kick(), intervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running?.catch(() => undefined);
  }

  // -1 when another relay holds the lock.
  #pass(): Promise<number> {
    return this.#o.db.transaction(async (tx) => {
      const lock = await tx.query<{ locked: boolean }>(`SELECT pg_try_advisory_xact_lock(${RELAY_LOCK_KEY}) AS locked`);
      if (!lock.rows[0]?.locked) return -1;
      const { rows } = await tx.query<OutboxRow>(
        `SELECT id, event_id, tenant_id, domain, kind, entity, user_id, version, actor, before, after, at
           FROM config_changes WHERE published_at IS NULL ORDER BY id LIMIT $1::integer`,
        [this.#o.pageSize],
      );
      if (rows.length === 0) return 0;
      await this.#o.publisher.publish(CONFIG_CHANGES_TOPIC, rows.map(configChangeMessage));
      await tx.query('UPDATE config_changes SET published_at = to_timestamp($2::double precision / 1000) WHERE id = ANY($1::bigint[])', [
        rows.map((r) => r.id),
        this.#o.now(),
      ]);
      return rows.length;
    });
  }
}
