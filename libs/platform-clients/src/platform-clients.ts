import { createKafkaBus, type Bus, type TopicSpec } from '@dmarc/bus';
import { type Contracts, loadContracts } from '@dmarc/contracts';
import type { ServiceContext } from '@dmarc/service-runtime';
import { PgStore } from '@dmarc/store';
import { observeBusStats } from './bus-metrics';

export interface PlatformClientsConfig {
  readonly KAFKA_BROKERS: readonly string[];
  readonly DATABASE_URL: string;
  readonly KAFKA_FETCH_MIN_BYTES?: number;
  readonly KAFKA_FETCH_MAX_WAIT_MS?: number;
}

/**
 * The clients every pipeline service holds: PostgreSQL and the Kafka bus, with their readiness checks
 * and their stop order (the bus closes first, so the message in hand is finished and committed while
 * the database is still there).
 */
export class PlatformClients {
  readonly store: PgStore;
  /** The topics' schemas, as the bus encodes and decodes with them. */
  readonly contracts: Contracts = loadContracts();
  private connected: Bus | undefined;

  constructor(
    private readonly config: PlatformClientsConfig,
    private readonly service: string,
  ) {
    this.store = new PgStore({ url: config.DATABASE_URL, applicationName: `dmarc-${service}` });
  }

  /** The bus once connected; throws before (readiness reports it). */
  get bus(): Bus {
    if (!this.connected) throw new Error('kafka: not connected yet');
    return this.connected;
  }

  /** In `setup`: readiness checks and shutdown hooks. */
  attach(ctx: ServiceContext): void {
    ctx.readiness.add('postgres', () => this.store.ping());
    ctx.telemetry.meter
      .createObservableCounter('dmarc_db_statements_total', { description: 'statements this process sent to PostgreSQL (BEGIN and COMMIT included)' })
      .addCallback((result) => result.observe(this.store.statementsSent));
    // Live: a broker must answer now, not merely have answered at start-up.
    ctx.readiness.add('kafka', () => this.bus.ping());
    observeBusStats(ctx.telemetry.meter, () => this.connected?.stats());
    ctx.onShutdown(() => this.store.close());
    ctx.onShutdown(() => this.connected?.close());
  }

  /** In `run`: waits for Kafka (one log line per attempt), then makes sure the topics exist. */
  async connect(ctx: ServiceContext, topics: readonly string[]): Promise<Bus> {
    const bus = await createKafkaBus({
      brokers: [...this.config.KAFKA_BROKERS],
      clientId: `dmarc-${this.service}`,
      contracts: this.contracts,
      logger: ctx.logger,
      signal: ctx.signal,
      consumerDefaults: { minBytes: this.config.KAFKA_FETCH_MIN_BYTES, maxWaitTimeMs: this.config.KAFKA_FETCH_MAX_WAIT_MS },
    });
    this.connected = bus;
    await bus.ensureTopics(topics.map((topic): TopicSpec => ({ topic })));
    return bus;
  }
}
