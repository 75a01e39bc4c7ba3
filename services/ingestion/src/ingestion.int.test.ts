import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import path from 'node:path';
import { createKafkaBus, type Bus, type Delivered } from '@dmarc/bus';
import { loadContracts } from '@dmarc/contracts';
import { PgStore, runMigrations } from '@dmarc/store';

// The launcher as ops run it: `dmarc serve ingestion` in its own process, real Kafka and PostgreSQL.
const BIN = path.resolve(__dirname, '../../cli/bin/dmarc.js');
const env = { KAFKA_BROKERS: process.env.KAFKA_BROKERS!, DATABASE_URL: process.env.DATABASE_URL!, REDIS_URL: process.env.REDIS_URL! };

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  server.close();
  return port;
}

interface Launched {
  child: ChildProcess;
  port: number;
  stdout: string[];
  stderr: string[];
}

async function serve(service: string, extraEnv: Record<string, string>): Promise<Launched> {
  const port = await freePort();
  const child = spawn(process.execPath, [BIN, 'serve', service], {
    env: { PATH: process.env.PATH, ...env, PORT: String(port), LOG_LEVEL: 'info', ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  child.stdout!.on('data', (d) => stdout.push(...String(d).split('\n').filter(Boolean)));
  child.stderr!.on('data', (d) => stderr.push(...String(d).split('\n').filter(Boolean)));
  return { child, port, stdout, stderr };
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const status = async (port: number, route: string) => (await fetch(`http://127.0.0.1:${port}${route}`)).status;

async function stop(l: Launched): Promise<number | null> {
  if (l.child.exitCode !== null) return l.child.exitCode;
  l.child.kill('SIGTERM');
  const [code] = (await once(l.child, 'exit')) as [number | null];
  return code;
}

describe('dmarc serve ingestion (real Kafka and PostgreSQL)', () => {
  let store: PgStore;
  let bus: Bus;
  let tenantId: string;

  beforeAll(async () => {
    await runMigrations(env.DATABASE_URL, { info: () => undefined });
    store = new PgStore({ url: env.DATABASE_URL });
    tenantId = (await store.query<{ id: string }>(`INSERT INTO tenants (name) VALUES ('ingestion-int') RETURNING id`)).rows[0].id;
    bus = await createKafkaBus({ brokers: env.KAFKA_BROKERS.split(','), clientId: 'ingestion-int-test', contracts: loadContracts() });
    await bus.ensureTopics([{ topic: 'dmarc.reports.inbound' }, { topic: 'dmarc.reports.received' }]);
  });
  afterAll(async () => {
    await bus?.close();
    await store?.close();
  });

  it('starts, becomes ready, takes a report from the inbound topic to the received topic, and stops on SIGTERM', async () => {
    const svc = await serve('ingestion', {});
    try {
      expect(await waitFor('healthz', async () => ((await status(svc.port, '/healthz')) === 200 ? true : undefined))).toBe(true);
      await waitFor('readyz', async () => ((await status(svc.port, '/readyz')) === 200 ? true : undefined));

      const seen: Array<Delivered<'dmarc.reports.received'>> = [];
      const sub = await bus.consume({
        groupId: `ingestion-int-${Date.now()}`,
        topics: ['dmarc.reports.received'],
        fromBeginning: false,
        handler: async (m) => void seen.push(m as Delivered<'dmarc.reports.received'>),
      });
      const payload = Buffer.from(`<feedback><report_metadata><report_id>${Date.now()}-${Math.random()}</report_id></report_metadata></feedback>`);
      await bus.publish('dmarc.reports.inbound', [
        { key: tenantId, tenantId, value: { tenantId, payload, filename: 'r.xml', contentType: 'text/xml', source: 'int-test', submittedAt: Date.now() } },
      ]);
      const got = await waitFor('received', async () => seen.find((m) => m.value.tenantId === tenantId && Buffer.isBuffer(m.value.raw) && m.value.raw.equals(payload)));
      await sub.close();
      expect(got.value).toMatchObject({ filename: 'r.xml', sizeBytes: payload.length });
      const row = await store.query<{ status: string; published: boolean; source: string }>(
        'SELECT status, published_at IS NOT NULL AS published, source FROM raw_reports WHERE id = $1',
        [got.value.reportId],
      );
      expect(row.rows[0]).toEqual({ status: 'received', published: true, source: 'int-test' });

      const metrics = await (await fetch(`http://127.0.0.1:${svc.port}/metrics`)).text();
      expect(metrics).toMatch(/dmarc_reports_accepted_total\{[^}]*duplicate="false"[^}]*\} [1-9]/);
    } finally {
      expect(await stop(svc)).toBe(0);
    }
    const lines = svc.stdout.map((l) => JSON.parse(l) as { msg: string });
    expect(lines.map((l) => l.msg)).toEqual(expect.arrayContaining(['http listening', 'started', 'stopping', 'stopped']));
  });

  it('without Kafka: stays alive, not ready, logs one clear line per attempt and no stack trace', async () => {
    const svc = await serve('ingestion', { KAFKA_BROKERS: '127.0.0.1:1' });
    try {
      await waitFor('healthz', async () => ((await status(svc.port, '/healthz')) === 200 ? true : undefined));
      await waitFor('two attempts logged', async () => (svc.stdout.filter((l) => l.includes('unreachable') || l.includes('unavailable')).length >= 2 ? true : undefined), 30_000);
      expect(await status(svc.port, '/readyz')).toBe(503);
    } finally {
      expect(await stop(svc)).toBe(0);
    }
    const all = [...svc.stdout, ...svc.stderr];
    expect(all.filter((l) => /^\s+at /.test(l) || l.includes('\\n    at '))).toEqual([]);
    const attempts = svc.stdout.map((l) => JSON.parse(l) as { level: string; msg: string }).filter((l) => l.level === 'warn');
    expect(attempts.length).toBeGreaterThanOrEqual(2);
    for (const a of attempts) expect(a.msg).toMatch(/127\.0\.0\.1:1|ECONNREFUSED|kafka/i);
  });

  it('refuses a wrong variable with one line naming it and exit code 78', async () => {
    const svc = await serve('ingestion', { PORT: 'not-a-port' });
    const [code] = (await once(svc.child, 'exit')) as [number];
    expect(code).toBe(78);
    expect(svc.stderr).toHaveLength(1);
    expect(svc.stderr[0]).toMatch(/^ingestion: configuration: PORT: .*"not-a-port"/);
  });
});
