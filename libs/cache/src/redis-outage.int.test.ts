// Redis stopped mid-test and started again, on a redis-server of the test's own (the shared one on 6379 is
// never touched): callers get no error, nothing older than its TTL is served, and once Redis is back the cache
// uses it again by itself (L2 hits again, invalidations heard again).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import type { CacheScope } from './cache-key';
import { connectRedisCache, type RedisCacheConnection } from './redis-connection';
import { TieredCache } from './tiered-cache';

const TTL_MS = 2_000;

function redisServerBinary(): string {
  const found = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).stdout.trim();
  if (found) return found;
  if (existsSync('/usr/bin/redis-server')) return '/usr/bin/redis-server';
  throw new Error('redis-server not found (install the distribution package)');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

class OwnRedis {
  private proc?: ChildProcess;
  private log = '';

  constructor(readonly port: number) {}

  start(): void {
    this.proc = spawn(redisServerBinary(), ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc.stdout!.on('data', (c: Buffer) => (this.log += c.toString()));
    this.proc.stderr!.on('data', (c: Buffer) => (this.log += c.toString()));
  }

  async ready(): Promise<void> {
    await waitFor(`redis-server on ${this.port}: ${this.log.slice(-500)}`, () => this.log.includes('Ready to accept connections'));
  }

  async stop(): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill('SIGKILL');
    await exited;
    this.log = '';
  }
}

describe('Redis stopped and restarted under the cache', () => {
  let server: OwnRedis;
  const conns: RedisCacheConnection[] = [];
  const caches: TieredCache[] = [];
  const scope: CacheScope = { tenantId: 'outage', tier: 'starter' };
  let version = 0;
  /** The source: every load a new version, stamped with when it was read. */
  const load = async () => ({ version: ++version, loadedAt: Date.now() });
  type Loaded = Awaited<ReturnType<typeof load>>;

  function checkFresh(value: Loaded): void {
    // An entry expires TTL after its load finished, so whatever is served was loaded less than TTL ago.
    const age = Date.now() - value.loadedAt;
    if (age >= TTL_MS) throw new Error(`served an entry ${age} ms old (TTL ${TTL_MS} ms): ${JSON.stringify(value)}`);
  }

  function cache(url: string): TieredCache {
    const conn = connectRedisCache(url, { commandTimeoutMs: 200 });
    conns.push(conn);
    const c = new TieredCache({ ...conn, closeDrivers: true, policies: { dashboard: { ttlMs: TTL_MS } }, l2RetryMs: 200, unsubscribedL1MaxAgeMs: 300 });
    caches.push(c);
    return c;
  }

  beforeAll(async () => {
    server = new OwnRedis(await freePort());
    server.start();
    await server.ready();
  });
  afterAll(async () => {
    await Promise.all(caches.map((c) => c.close()));
    await server.stop();
  });

  it('serves from L1 and the source while Redis is down, never past the TTL, and uses Redis again once it is back', async () => {
    const url = `redis://127.0.0.1:${server.port}`;
    const a = cache(url);
    const b = cache(url);
    for (const conn of conns) expect(await conn.ready()).toBe(true);

    // Up: B finds what A loaded in L2.
    checkFresh(await a.getOrLoad(scope, 'dashboard', ['a.com', 'summary'], load));
    checkFresh(await b.getOrLoad(scope, 'dashboard', ['a.com', 'summary'], load));
    expect(b.stats().l2.hits).toBe(1);

    await server.stop();

    // Down for longer than the TTL: every call answers, from L1 or the source, and nothing served is too old.
    let calls = 0;
    let sawDegraded = false;
    const downUntil = Date.now() + TTL_MS + 1_500;
    while (Date.now() < downUntil) {
      for (const c of [a, b]) {
        for (const domain of ['a.com', 'b.com', 'c.com']) {
          checkFresh(await c.getOrLoad(scope, 'dashboard', [domain, 'summary'], load));
          calls++;
        }
        await c.set(scope, 'dashboard', ['d.com', 'summary'], await load());
        await c.invalidateGroup(scope, 'dashboard', 'b.com');
        sawDegraded ||= c.stats().degraded;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(sawDegraded).toBe(true);
    expect(a.stats().l2Errors).toBeGreaterThan(0);
    console.log(`${calls} reads answered while Redis was down; A ${JSON.stringify(a.stats())}`);

    server.start();
    await server.ready();

    // Back: both subscribers reconnect (each clears its L1), and L2 serves again.
    await waitFor('both broadcasts connected', () => a.stats().broadcastConnected && b.stats().broadcastConnected);
    const hitsBefore = b.stats().l2.hits;
    let n = 0;
    await waitFor('an L2 hit after the restart', async () => {
      const id = [`e${++n}.com`, 'summary'];
      checkFresh(await a.getOrLoad(scope, 'dashboard', id, load));
      checkFresh(await b.getOrLoad(scope, 'dashboard', id, load));
      return b.stats().l2.hits > hitsBefore;
    });
    expect(a.stats().degraded).toBe(false);
    expect(b.stats().degraded).toBe(false);

    // And invalidations travel again: A drops, B reloads the new version.
    const id = ['f.com', 'summary'];
    const first = await b.getOrLoad(scope, 'dashboard', id, load);
    await a.invalidate(scope, 'dashboard', id);
    await waitFor('B to drop f.com', () => !b.l1Has(scope, 'dashboard', id));
    const second = await b.getOrLoad(scope, 'dashboard', id, load);
    expect(second.version).toBeGreaterThan(first.version);
  });
});
