import { launch, type ReadinessReport, type RunningService, type ServiceModule } from '@dmarc/service-runtime';
import { createPrivateKafka, hostPortOf, privateKafkaUnavailable, startTcpProxy, waitFor, type PrivateKafka, type TcpProxy } from '@dmarc/testing';
import { SERVICES } from './service-registry';

// /readyz turns false while PostgreSQL or Redis is unreachable and true again by itself, naming what is down;
// the process keeps serving liveness all along. PostgreSQL and Redis are reached through proxies the test cuts,
// so the shared servers stay up for everyone else; Kafka is a broker of the test's own, stopped and started again.
describe('readiness follows the dependencies (api service: Kafka, PostgreSQL, Redis)', () => {
  let pg: TcpProxy;
  let redis: TcpProxy;
  let svc: RunningService;
  let base: string;

  beforeAll(async () => {
    pg = await startTcpProxy(hostPortOf(process.env.DATABASE_URL!));
    redis = await startTcpProxy(hostPortOf(process.env.REDIS_URL!));
    const result = await launch(
      SERVICES.api as ServiceModule,
      { ...process.env, LOG_LEVEL: 'silent', DATABASE_URL: pg.through(process.env.DATABASE_URL!), REDIS_URL: redis.through(process.env.REDIS_URL!) },
      { port: 0 },
    );
    if (!result.ok) throw new Error(result.message);
    svc = result.service;
    base = `http://127.0.0.1:${svc.port}`;
    await svc.started;
  });
  afterAll(async () => {
    await svc?.stop();
    await pg?.close();
    await redis?.close();
  });

  const readiness = async () => {
    const res = await fetch(`${base}/readyz`);
    return { status: res.status, report: (await res.json()) as ReadinessReport };
  };
  const readyIs = (want: boolean) => waitFor(`ready=${want}`, async () => ((await readiness()).report.ready === want ? true : undefined), 20_000);

  it('is ready with everything up, not ready while PostgreSQL is cut, ready again once it is back', async () => {
    await readyIs(true);
    expect((await readiness()).report.checks).toMatchObject({ kafka: { ok: true }, postgres: { ok: true }, redis: { ok: true } });

    pg.cut();
    await readyIs(false);
    const down = await readiness();
    expect(down.status).toBe(503);
    expect(down.report.checks.postgres.ok).toBe(false);
    expect(down.report.checks.kafka.ok).toBe(true);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);

    pg.restore();
    await readyIs(true);
  });

  it('is not ready while Redis is cut, and ready again once it is back', async () => {
    redis.cut();
    await readyIs(false);
    const down = await readiness();
    expect(down.report.checks.redis).toMatchObject({ ok: false, error: expect.stringContaining('redis') });
    expect(down.report.checks.postgres.ok).toBe(true);
    redis.restore();
    await readyIs(true);
  });
});

const noPrivateKafka = privateKafkaUnavailable();
if (noPrivateKafka) console.warn(`readiness.int.test: Kafka-loss case skipped: ${noPrivateKafka}`);
(noPrivateKafka ? describe.skip : describe)('readiness follows Kafka after the service connected (parsing service, a broker of its own)', () => {
  let kafka: PrivateKafka;
  let svc: RunningService;
  let base: string;
  beforeAll(async () => {
    kafka = await createPrivateKafka();
    const result = await launch(SERVICES.parsing as ServiceModule, { ...process.env, LOG_LEVEL: 'silent', KAFKA_BROKERS: kafka.brokers }, { port: 0 });
    if (!result.ok) throw new Error(result.message);
    svc = result.service;
    base = `http://127.0.0.1:${svc.port}`;
    await svc.started;
  }, 120_000);
  afterAll(async () => {
    await svc?.stop();
    await kafka?.close();
  }, 60_000);

  const report = async () => (await (await fetch(`${base}/readyz`)).json()) as ReadinessReport;

  it('turns not ready while the broker is down, naming kafka, and ready again once it is back', async () => {
    await waitFor('ready', async () => ((await report()).ready ? true : undefined), 30_000);
    await kafka.stop();
    const down = await waitFor('not ready', async () => {
      const r = await report();
      return r.ready ? undefined : r;
    }, 30_000);
    expect(down.checks.kafka.ok).toBe(false);
    expect(down.checks.postgres.ok).toBe(true);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    await kafka.start();
    await waitFor('ready again', async () => ((await report()).ready ? true : undefined), 60_000);
  }, 180_000);
});
