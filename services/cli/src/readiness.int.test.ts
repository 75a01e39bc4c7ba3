import { launch, type ReadinessReport, type RunningService, type ServiceModule } from '@dmarc/service-runtime';
import { hostPortOf, startTcpProxy, waitFor, type TcpProxy } from '@dmarc/testing';
import { SERVICES } from './service-registry';

// /readyz turns false while PostgreSQL or Redis is unreachable and true again by itself, naming what is down;
// the process keeps serving liveness all along. PostgreSQL and Redis are reached through proxies the test cuts,
// so the shared servers stay up for everyone else. (Kafka before the first connection: ingestion.int.test.ts.)
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
