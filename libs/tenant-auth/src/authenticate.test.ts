import Fastify from 'fastify';
import { HttpError, installErrorHandler } from '@dmarc/service-runtime';
import { migrate, PgliteStore, type Store } from '@dmarc/store';
import { authenticateApiKey, hashApiKey, issueApiKey, UnauthorizedError } from './index';

describe('authenticateApiKey', () => {
  let store: Store;
  let acme: string;
  let globex: string;

  beforeAll(async () => {
    store = await PgliteStore.open();
    await migrate(store);
    const tenant = async (name: string) => (await store.query<{ id: string }>('INSERT INTO tenants (name) VALUES ($1) RETURNING id', [name])).rows[0].id;
    acme = await tenant('acme');
    globex = await tenant('globex');
    // PGlite starts a whole PostgreSQL in WebAssembly: seconds on a busy 2-core machine.
  }, 60_000);
  afterAll(() => store.close());

  it('finds the tenant of a live key, whatever the case of the scheme and surrounding blanks', async () => {
    const a = await issueApiKey(store, acme);
    const g = await issueApiKey(store, globex);
    expect(await authenticateApiKey(store, `Bearer ${a.key}`)).toEqual({ tenantId: acme });
    expect(await authenticateApiKey(store, `bearer  ${g.key} `)).toEqual({ tenantId: globex });
  });

  it('stores only the hex SHA-256 of the key', async () => {
    const { id, key } = await issueApiKey(store, acme);
    const row = (await store.query<{ key_hash: string }>('SELECT key_hash FROM api_keys WHERE id = $1', [id])).rows[0];
    expect(row.key_hash).toBe(hashApiKey(key));
    expect(row.key_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(hashApiKey('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it.each([
    ['missing', undefined],
    ['empty', ''],
    ['not bearer', 'Basic dXNlcjpwYXNz'],
    ['bearer without key', 'Bearer '],
    ['two tokens', 'Bearer a b'],
    ['repeated header', ['Bearer a', 'Bearer b']],
    ['absurdly long', `Bearer ${'x'.repeat(513)}`],
    ['unknown key', 'Bearer dmarc_nope'],
  ])('refuses a %s header with UNAUTHORIZED', async (_what, header) => {
    const err = await authenticateApiKey(store, header).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnauthorizedError);
    expect(err).toBeInstanceOf(HttpError);
    expect(err).toMatchObject({ statusCode: 401, code: 'UNAUTHORIZED', retriable: false });
  });

  it('refuses a revoked key', async () => {
    const { id, key } = await issueApiKey(store, acme);
    await store.query('UPDATE api_keys SET revoked_at = now() WHERE id = $1', [id]);
    await expect(authenticateApiKey(store, `Bearer ${key}`)).rejects.toMatchObject({ code: 'UNAUTHORIZED', message: 'unknown or revoked API key' });
  });

  it('becomes the documented 401 body under the platform error handler', async () => {
    const app = Fastify();
    installErrorHandler(app);
    app.get('/who', async (req) => authenticateApiKey(store, req.headers.authorization));
    const { key } = await issueApiKey(store, globex);
    // A real socket: light-my-request's inject pulls in an ESM-only dependency jest cannot load.
    const base = await app.listen({ port: 0, host: '127.0.0.1' });
    const ok = await fetch(`${base}/who`, { headers: { authorization: `Bearer ${key}` } });
    expect(await ok.json()).toEqual({ tenantId: globex });
    const denied = await fetch(`${base}/who`);
    expect(denied.status).toBe(401);
    expect(await denied.json()).toEqual({ error: 'UNAUTHORIZED', message: 'missing Authorization: Bearer <api key> header' });
    await app.close();
  });
});
