// Test support (not a test): the API in-process on a real socket over the given store, cache and limiter.
// A real socket: light-my-request's inject pulls in an ESM-only dependency jest cannot load.
import type { TieredCache } from '@dmarc/cache';
import { installErrorHandler } from '@dmarc/service-runtime';
import type { Store } from '@dmarc/store';
import type { RateLimiter } from '@dmarc/tenant-admin';
import Fastify, { type FastifyInstance } from 'fastify';
import { registerApi } from './api-routes';

export interface ApiUnderTest {
  app: FastifyInstance;
  base: string;
  call(method: string, path: string, key: string | undefined, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }>;
}

export async function startApi(deps: { db: Store; cache: TieredCache; limiter: RateLimiter; afterChange?: () => void; maxBodyBytes?: number }): Promise<ApiUnderTest> {
  const app = Fastify();
  installErrorHandler(app);
  await registerApi(app, { logger: { warn: () => undefined }, maxBodyBytes: 16 * 1024, maxRangeDays: 366, ...deps });
  const base = await app.listen({ port: 0, host: '127.0.0.1' });
  return {
    app,
    base,
    async call(method, path, key, body, headers = {}) {
      const init: RequestInit = { method, headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...headers } };
      if (body !== undefined) {
        init.body = typeof body === 'string' ? body : JSON.stringify(body);
        (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
      }
      const res = await fetch(`${base}${path}`, init);
      const text = await res.text();
      return { status: res.status, headers: res.headers, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
    },
  };
}
