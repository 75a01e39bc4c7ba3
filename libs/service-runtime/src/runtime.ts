import Fastify, { type FastifyInstance } from 'fastify';
import { createLogger, startTelemetry, type Logger, type LogLevel, type Telemetry } from '@dmarc/telemetry';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { traceHttpRequests } from './http-tracing';
import { describeError } from './errors';
import { installErrorHandler } from './http-errors';
import { observeLoopLag } from './loop-lag';
import { Readiness } from './readiness';

export interface ServiceContext {
  readonly name: string;
  readonly logger: Logger;
  readonly telemetry: Telemetry;
  /** The service's HTTP server: add routes in `start`; /healthz, /readyz and /metrics are there already. */
  readonly http: FastifyInstance;
  readonly readiness: Readiness;
  /** Aborted when the service is asked to stop: long start-up retries watch it. */
  readonly signal: AbortSignal;
  /** Registered stops run in reverse order on shutdown (consumers first finish the batch in hand). */
  onShutdown(stop: () => Promise<void> | void): void;
}

export interface ServiceDefinition {
  name: string;
  /** Builds clients and registers HTTP routes; must not wait for remote dependencies. */
  setup(ctx: ServiceContext): Promise<void> | void;
  /** Connects and starts consuming (may retry for a long time); the service is ready when it resolves. */
  run?(ctx: ServiceContext): Promise<void>;
}

export interface RunOptions {
  port: number;
  host?: string;
  logLevel?: LogLevel;
  otlpTracesUrl?: string;
  spanProcessors?: SpanProcessor[];
  /** Largest request body the HTTP server accepts, in bytes. */
  bodyLimit?: number;
  /** Install SIGTERM/SIGINT handlers that stop and exit (the launcher does; tests do not). */
  handleSignals?: boolean;
}

export interface RunningService {
  readonly port: number;
  readonly context: ServiceContext;
  /** Resolves when `run` has finished starting (rejects if it failed). */
  readonly started: Promise<void>;
  stop(): Promise<void>;
}

/**
 * Runs one service: HTTP first (so liveness answers and readiness says "starting" while the
 * service still waits for Kafka), then the service's own start, then serves until stopped.
 */
export async function runService(def: ServiceDefinition, options: RunOptions): Promise<RunningService> {
  const telemetry = startTelemetry({
    serviceName: def.name,
    otlpTracesUrl: options.otlpTracesUrl,
    spanProcessors: options.spanProcessors,
  });
  const logger = createLogger({ service: def.name, level: options.logLevel });
  const http = Fastify({ logger: false, bodyLimit: options.bodyLimit ?? 1024 * 1024 });
  installErrorHandler(http);
  // Time in the server per request (Fastify's own clock: from the request read to the reply sent), by route
  // and status: what a client's latency owes to the service, and what to its machine and the network.
  const requestDuration = telemetry.meter.createHistogram('dmarc_http_server_duration', {
    unit: 'ms',
    description: 'time from a request read to its reply sent, by method, route and status',
    // Fine below 25 ms: a dashboard read's 10 ms target needs bounds around it to be told apart.
    advice: { explicitBucketBoundaries: [0.1, 0.25, 0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 25, 50, 100, 250, 500, 1000, 2500, 10000] },
  });
  http.addHook('onResponse', (request, reply, done) => {
    requestDuration.record(reply.elapsedTime, { method: request.method, route: request.routeOptions.url ?? 'unmatched', status: reply.statusCode });
    done();
  });
  traceHttpRequests(http, new Set(['/healthz', '/readyz', '/metrics']));
  const stopLoopLag = observeLoopLag(telemetry.meter);
  const readiness = new Readiness();
  const abort = new AbortController();
  const stops: Array<() => Promise<void> | void> = [];

  http.get('/healthz', async () => ({ status: 'ok', service: def.name }));
  http.get('/readyz', async (_req, reply) => {
    const report = await readiness.report();
    return reply.status(report.ready ? 200 : 503).send({ service: def.name, ...report });
  });
  http.get('/metrics', async (_req, reply) => {
    reply.type('text/plain; version=0.0.4');
    return telemetry.prometheusText();
  });

  const context: ServiceContext = {
    name: def.name,
    logger,
    telemetry,
    http,
    readiness,
    signal: abort.signal,
    onShutdown: (stop) => stops.push(stop),
  };

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      logger.info('stopping');
      abort.abort();
      for (const s of stops.reverse()) {
        try {
          await s();
        } catch (err) {
          logger.error({ reason: describeError(err) }, 'error while stopping');
        }
      }
      await http.close();
      stopLoopLag();
      await telemetry.shutdown();
      logger.info('stopped');
      logger.flush();
    })());

  if (options.handleSignals) {
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: exiting now');
        process.exit(1);
      }
      logger.info({ signal }, 'signal received');
      stop().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  }

  // Routes must exist before listen; remote dependencies are awaited after it, so liveness answers
  // and readiness reports "starting" while the service waits for Kafka.
  await def.setup(context);
  await http.listen({ port: options.port, host: options.host ?? '127.0.0.1' });
  const address = http.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  logger.info({ port }, 'http listening');
  const running = Promise.resolve(def.run?.(context));
  running.then(
    () => {
      readiness.markStarted();
      logger.info('started');
    },
    (err) => {
      if (abort.signal.aborted) return;
      logger.error({ reason: describeError(err) }, 'start failed');
      void stop().then(() => {
        if (options.handleSignals) process.exit(1);
      });
    },
  );
  return { port, context, stop, started: running.then(() => undefined) };
}
