import { randomBytes } from 'node:crypto';
import { DnsClient, upstreamServer } from '@dmarc/dns-wire';
import { PgStore, runMigrations } from '@dmarc/store';
import { addDomain, createTenant, NotFoundError, putPolicy, type Actor, type AdminContext } from '@dmarc/tenant-admin';
import { namedBinary, startBind9, type Bind9 } from './__test-support__/bind9';
import type { DnsAlert } from './alert-sink';
import { deleteAutopilot, getAutopilot, putAutopilot, type AutopilotSettingsInput } from './autopilot-settings';
import { AutopilotWorker, type AutopilotWorkerOptions, type VerifiedChange } from './autopilot-worker';

// The autopilot against a real BIND 9 primary on loopback (Debian's bind9 package, started by the test) and
// the real PostgreSQL, in a database of its own: the dns service other tests start runs the autopilot worker
// too, and must not take this test's jobs (nor this test's workers theirs).
const run = `${Date.now()}-${process.pid}`;
const named = namedBinary();
if (!named) {
  // Visible in the run's output: this suite proves nothing without BIND.
  console.warn('SKIPPED libs/dns-update autopilot.int.test.ts: named is not installed (apt-get install bind9 bind9-utils; scripts/infra.sh installs it)');
}
const describeWithBind = named ? describe : describe.skip;

describeWithBind('DNS autopilot against a real BIND 9 and PostgreSQL', () => {
  const zone = `ap-${run}.test`;
  let bind: Bind9;
  let admin: PgStore;
  let store: PgStore;
  const database = `dmarc_autopilot_${run.replace(/-/g, '_')}`;
  let ctx: AdminContext;
  let actor: Actor;
  let other: Actor;
  const alerts: DnsAlert[] = [];
  const verified: VerifiedChange[] = [];
  // What the worker logged, for a failing expectation's context.
  const logged: string[] = [];
  const logger = { info: () => undefined, warn: (o: object, m: string) => void logged.push(`${m} ${JSON.stringify(o)}`), error: (o: object, m: string) => void logged.push(`${m} ${JSON.stringify(o)}`) };
  // The worker's scheduling clock, moved forward to make a retry due without waiting (TSIG signs with the wall clock).
  let ahead = 0;
  const clock = () => Date.now() + ahead;

  const worker = (options: Partial<AutopilotWorkerOptions> = {}) =>
    new AutopilotWorker({
      db: store,
      logger,
      alerts: { raise: async (alert) => void alerts.push(alert) },
      onVerified: (change) => void verified.push(change),
      // The test's BIND listens on loopback, which production refuses by default.
      allowInternalServers: true,
      timeoutMs: 2000,
      now: clock,
      tenants: [actor.tenantId, other.tenantId],
      ...options,
    });

  const settings = (overrides: Partial<AutopilotSettingsInput> = {}): AutopilotSettingsInput => ({
    host: bind.host,
    port: bind.port,
    zone,
    keyName: bind.key.name,
    algorithm: bind.key.algorithm,
    secret: bind.key.secret,
    ...overrides,
  });

  /** The TXT records at a name, read from BIND directly. */
  const published = async (name: string): Promise<string[]> => {
    const answer = await new DnsClient({ servers: [upstreamServer(bind.host, bind.port)], retries: 0 }).query(name, 'TXT');
    return answer.answers.flatMap((r) => (r.type === 'TXT' ? [r.strings.join('')] : []));
  };

  const jobsOf = async (domain: string) =>
    (
      await store.query<{ id: string; status: string; attempts: number; last_error_code: string | null; last_error: string | null; next_attempt_at: Date; record: string | null; alerted_at: Date | null }>(
        'SELECT id, status, attempts, last_error_code, last_error, next_attempt_at, record, alerted_at FROM dns_update_jobs WHERE domain = $1 AND tenant_id = $2 ORDER BY id',
        [domain, actor.tenantId],
      )
    ).rows;

  const optedInDomain = async (label: string, overrides: Partial<AutopilotSettingsInput> = {}) => {
    const domain = `${label}.${zone}`;
    await addDomain(ctx, actor, domain);
    await putAutopilot(ctx, actor, domain, settings(overrides));
    return domain;
  };

  beforeAll(async () => {
    admin = new PgStore({ url: process.env.DATABASE_URL! });
    await admin.query(`CREATE DATABASE ${database}`);
    const url = new URL(process.env.DATABASE_URL!);
    url.pathname = `/${database}`;
    await runMigrations(url.toString(), { info: () => undefined });
    store = new PgStore({ url: url.toString() });
    ctx = { db: store };
    bind = await startBind9({
      zone,
      records: ['_dmarc.d1 300 IN TXT "v=DMARC1; p=none; rua=mailto:agg@reports.example!10m; t=y"', '_dmarc.cname 300 IN CNAME cname._dmarc.vendor.example.'],
    });
    const a = await createTenant(store, { name: `autopilot-a-${run}`, tier: 'business' });
    const b = await createTenant(store, { name: `autopilot-b-${run}`, tier: 'business' });
    actor = { tenantId: a.id, name: 'api-key:test-a' };
    other = { tenantId: b.id, name: 'api-key:test-b' };
  }, 60_000);

  afterAll(async () => {
    await bind?.close();
    await store?.close();
    await admin?.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin?.close();
  });

  it('writes an approved policy change to BIND, reads it back from BIND, audits it, and keeps the published rua', async () => {
    const domain = await optedInDomain('d1');
    await putPolicy(ctx, actor, domain, { p: 'reject', pct: 50, adkim: 's' });
    // The job exists as soon as the policy change is committed: same transaction.
    expect(await jobsOf(domain)).toEqual([expect.objectContaining({ status: 'pending', attempts: 0 })]);

    await worker().runOnce();

    const record = 'v=DMARC1; p=reject; pct=50; adkim=s; aspf=r; rua=mailto:agg@reports.example!10m';
    expect(await published(`_dmarc.${domain}`)).toEqual([record]);
    expect(await jobsOf(domain)).toEqual([expect.objectContaining({ status: 'verified', attempts: 1, record, last_error: null })]);
    const audit = await store.query<{ actor: string; before: unknown; after: { record: string; policyVersion: number; requestedBy: string } }>(
      "SELECT actor, before, after FROM audit_log WHERE tenant_id = $1 AND action = 'dns.autopilot.update' AND entity = $2",
      [actor.tenantId, `dns:_dmarc.${domain}`],
    );
    expect(audit.rows).toEqual([
      {
        actor: 'dns-autopilot',
        before: { records: ['v=DMARC1; p=none; rua=mailto:agg@reports.example!10m; t=y'] },
        after: expect.objectContaining({ record, policyVersion: 1, requestedBy: 'api-key:test-a' }),
      },
    ]);
    expect(verified).toContainEqual({ tenantId: actor.tenantId, domain, name: `_dmarc.${domain}`, record });

    // The same policy again is no change: no job. A new one is written over the old record.
    await putPolicy(ctx, actor, domain, { p: 'reject', pct: 50, adkim: 's' });
    expect(await jobsOf(domain)).toHaveLength(1);
    await putPolicy(ctx, actor, domain, { p: 'quarantine', sp: 'none' });
    await worker().runOnce();
    expect(await published(`_dmarc.${domain}`)).toEqual(['v=DMARC1; p=quarantine; sp=none; pct=100; adkim=r; aspf=r; rua=mailto:agg@reports.example!10m']);

    const view = await getAutopilot(store, actor.tenantId, domain);
    expect(view).toMatchObject({ domain, provider: 'rfc2136', host: bind.host, port: bind.port, zone, keyName: bind.key.name, algorithm: 'hmac-sha256', ttl: 300 });
    expect(view.jobs.map((j) => [j.status, j.policyVersion])).toEqual([
      ['verified', 2],
      ['verified', 1],
    ]);
    expect(JSON.stringify(view)).not.toContain(bind.key.secret);
  });

  it('writes nothing for a domain that is not opted in, and only the newest of changes made before the worker ran', async () => {
    const plain = `plain.${zone}`;
    await addDomain(ctx, actor, plain);
    await putPolicy(ctx, actor, plain, { p: 'reject' });
    expect(await jobsOf(plain)).toEqual([]);

    const domain = await optedInDomain('d5');
    await putPolicy(ctx, actor, domain, { p: 'none' });
    await putPolicy(ctx, actor, domain, { p: 'reject' });
    await worker().runOnce();
    expect((await jobsOf(domain)).map((j) => j.status)).toEqual(['superseded', 'verified']);
    expect(await published(`_dmarc.${domain}`)).toEqual(['v=DMARC1; p=reject; pct=100; adkim=r; aspf=r']);
  });

  it('fails a job at once with a wrong TSIG secret (not retriable), raises one alert, and leaves the record alone', async () => {
    const domain = await optedInDomain('d2', { secret: randomBytes(32).toString('base64') });
    // The sink is down on the first pass: the alert is owed, not lost, and raised on the next pass.
    let sinkDown = true;
    const w = worker({
      alerts: {
        raise: async (alert) => {
          if (sinkDown) throw new Error('alert store unavailable');
          alerts.push(alert);
        },
      },
    });
    await putPolicy(ctx, actor, domain, { p: 'reject' });
    await w.runOnce();

    const [job] = await jobsOf(domain);
    expect(job).toMatchObject({ status: 'failed', attempts: 1, last_error_code: 'DNS_UPDATE_NOT_AUTHORIZED', alerted_at: null, record: 'v=DMARC1; p=reject; pct=100; adkim=r; aspf=r' });
    expect(job!.last_error).toMatch(/NOTAUTH \(BADSIG\)/);
    expect(await published(`_dmarc.${domain}`)).toEqual([]);
    expect(alerts.filter((a) => a.domain === domain)).toEqual([]);

    sinkDown = false;
    await w.runOnce();
    await w.runOnce();
    const raised = alerts.filter((a) => a.domain === domain);
    expect(raised).toEqual([
      expect.objectContaining({
        tenantId: actor.tenantId,
        domain,
        rule: 'dns_update_failed',
        severity: 'high',
        evidence: expect.objectContaining({ jobId: Number(job!.id), errorCode: 'DNS_UPDATE_NOT_AUTHORIZED', attempts: 1 }),
      }),
    ]);
    expect(raised[0]!.summary).toMatch(/BADSIG/);
    expect((await jobsOf(domain))[0]!.alerted_at).not.toBeNull();
  });

  it('retries with backoff while BIND is down, failing and alerting after the last attempt, or writing the record once BIND is back', async () => {
    const never = await optedInDomain('d3');
    const back = await optedInDomain('d4');
    await bind.stop();
    try {
      await putPolicy(ctx, actor, never, { p: 'reject' });
      const twice = worker({ maxAttempts: 2 });
      await twice.runOnce();
      const [first] = await jobsOf(never);
      expect(first).toMatchObject({ status: 'pending', attempts: 1, last_error_code: 'DNS_UPDATE_NETWORK' });
      expect(first!.next_attempt_at.getTime()).toBeGreaterThan(clock());
      // Not due yet: not tried again.
      await twice.runOnce();
      expect((await jobsOf(never))[0]!.attempts).toBe(1);
      ahead += 60 * 60_000;
      await twice.runOnce();
      expect((await jobsOf(never))[0]).toMatchObject({ status: 'failed', attempts: 2, last_error_code: 'DNS_UPDATE_NETWORK' });
      expect(alerts.filter((a) => a.domain === never)).toEqual([expect.objectContaining({ rule: 'dns_update_failed', evidence: expect.objectContaining({ attempts: 2 }) })]);

      await putPolicy(ctx, actor, back, { p: 'quarantine' });
      await worker({ maxAttempts: 5 }).runOnce();
      expect((await jobsOf(back))[0]).toMatchObject({ status: 'pending', attempts: 1, last_error_code: 'DNS_UPDATE_NETWORK' });
    } finally {
      await bind.start();
    }
    ahead += 60 * 60_000;
    await worker({ maxAttempts: 5 }).runOnce();
    expect((await jobsOf(back))[0]).toMatchObject({ status: 'verified', attempts: 2, last_error_code: null });
    expect(await published(`_dmarc.${back}`)).toEqual(['v=DMARC1; p=quarantine; pct=100; adkim=r; aspf=r']);
  });

  it('leaves a DMARC record delegated by CNAME alone: not retriable, failed, alerted', async () => {
    const domain = await optedInDomain('cname');
    await putPolicy(ctx, actor, domain, { p: 'reject' });
    await worker().runOnce();
    const [job] = await jobsOf(domain);
    expect(job).toMatchObject({ status: 'failed', attempts: 1, last_error_code: 'DNS_UPDATE_REJECTED' });
    expect(job!.last_error).toMatch(/is a CNAME/);
    expect(alerts.filter((a) => a.domain === domain)).toHaveLength(1);
  });

  it('sends nothing to a loopback or private server unless the operator allows it: failed, alerted', async () => {
    const domain = await optedInDomain('internal');
    await putPolicy(ctx, actor, domain, { p: 'reject' });
    await worker({ allowInternalServers: false }).runOnce();
    const [job] = await jobsOf(domain);
    expect(job).toMatchObject({ status: 'failed', attempts: 1, last_error_code: 'DNS_UPDATE_INVALID_SETTINGS' });
    expect(job!.last_error).toMatch(/127\.0\.0\.1 is a loopback, private or link-local address/);
    expect(await published(`_dmarc.${domain}`)).toEqual([]);
    expect(alerts.filter((a) => a.domain === domain)).toHaveLength(1);
  });

  it("refuses another tenant's reads and writes of a domain's autopilot with not found, and changes nothing", async () => {
    const domain = await optedInDomain('d6');
    await expect(getAutopilot(store, other.tenantId, domain)).rejects.toBeInstanceOf(NotFoundError);
    await expect(putAutopilot({ db: store }, other, domain, settings({ port: 1 }))).rejects.toBeInstanceOf(NotFoundError);
    await expect(deleteAutopilot({ db: store }, other, domain)).rejects.toBeInstanceOf(NotFoundError);
    expect(await getAutopilot(store, actor.tenantId, domain)).toMatchObject({ port: bind.port });

    // Opting out cancels what is queued; a change after it creates no job.
    await putPolicy(ctx, actor, domain, { p: 'reject' });
    await deleteAutopilot(ctx, actor, domain);
    await putPolicy(ctx, actor, domain, { p: 'none' });
    expect((await jobsOf(domain)).map((j) => [j.status, j.last_error])).toEqual([['cancelled', 'the domain opted out of the DNS autopilot']]);
    await expect(getAutopilot(store, actor.tenantId, domain)).rejects.toBeInstanceOf(NotFoundError);
    await expect(deleteAutopilot(ctx, actor, domain)).rejects.toBeInstanceOf(NotFoundError);
  });
});
