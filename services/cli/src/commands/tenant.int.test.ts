import { PgStore, runMigrations } from '@dmarc/store';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { main } from '../main';

// `dmarc tenant create` against the real PostgreSQL: in-process for the cases, and once as ops run it.
describe('dmarc tenant create (real PostgreSQL)', () => {
  let store: PgStore;
  const run = `${Date.now()}-${process.pid}`;

  beforeAll(async () => {
    await runMigrations(process.env.DATABASE_URL!, { info: () => undefined });
    store = new PgStore({ url: process.env.DATABASE_URL! });
  });
  afterAll(() => store?.close());

  const invoke = async (args: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(['tenant', ...args], { env: { DATABASE_URL: process.env.DATABASE_URL }, out: (l) => out.push(l), err: (l) => err.push(l), write: (c) => out.push(c) });
    return { code, out, err };
  };

  it('prints one JSON line with the tenant and a working key, stored as a hash, audited', async () => {
    const { code, out, err } = await invoke(['create', `cli-${run}`, '--tier', 'business']);
    expect({ code, err }).toEqual({ code: 0, err: [] });
    expect(out).toHaveLength(1);
    const created = JSON.parse(out[0]) as { id: string; name: string; tier: string; apiKey: string };
    expect(Object.keys(created).sort()).toEqual(['apiKey', 'id', 'name', 'tier']);
    expect(created).toMatchObject({ name: `cli-${run}`, tier: 'business', apiKey: expect.stringMatching(/^dmarc_[A-Za-z0-9_-]{40,}$/) });
    const tenant = await store.query<{ tier: string }>('SELECT tier FROM tenants WHERE id = $1', [created.id]);
    expect(tenant.rows).toEqual([{ tier: 'business' }]);
    const keys = await store.query<{ key_hash: string }>('SELECT key_hash FROM api_keys WHERE tenant_id = $1', [created.id]);
    expect(keys.rows).toHaveLength(1);
    expect(keys.rows[0].key_hash).not.toContain(created.apiKey);
    const audit = await store.query<{ actor: string; action: string }>('SELECT actor, action FROM audit_log WHERE tenant_id = $1', [created.id]);
    expect(audit.rows).toEqual([{ actor: 'cli', action: 'tenant.create' }]);
  });

  // A name no other test uses, so "nothing written" holds on a database others write to meanwhile.
  const bad = `cli-refused-${run}`;
  it.each([
    [['create', bad, '--tier', 'gold'], '--tier must be one of starter, business, enterprise, got "gold"'],
    [['create', bad], 'missing --tier'],
    [['create', '--tier', 'starter'], 'missing NAME'],
    [['create', bad, 'y', '--tier', 'starter'], 'unexpected argument "y"'],
    [['create', bad, '--tier', 'starter', '--force'], 'unknown option --force'],
    [['delete', bad], 'unknown subcommand "delete"'],
    [[], 'missing subcommand'],
  ])('%j: one line, exit 64, nothing written', async (args, why) => {
    const { code, out, err } = await invoke(args);
    expect(code).toBe(64);
    expect(out).toEqual([]);
    expect(err).toHaveLength(1);
    expect(err[0]).toContain(why);
    expect(err[0]).not.toContain('\n');
    expect((await store.query('SELECT 1 FROM tenants WHERE name = $1', [bad])).rowCount).toBe(0);
  });

  it('runs as `npx dmarc tenant create` (the bin)', () => {
    const bin = path.join(__dirname, '../../bin/dmarc.js');
    const ok = spawnSync(process.execPath, [bin, 'tenant', 'create', `cli-bin-${run}`, '--tier', 'starter'], { encoding: 'utf8', env: { ...process.env }, timeout: 120_000 });
    expect(ok.status).toBe(0);
    const lines = ok.stdout.split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0])).toMatchObject({ name: `cli-bin-${run}`, tier: 'starter' });
    const bad = spawnSync(process.execPath, [bin, 'tenant', 'create', 'x', '--tier', 'platinum'], { encoding: 'utf8', env: { ...process.env }, timeout: 120_000 });
    expect(bad.status).toBe(64);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
  }, 180_000);
});
