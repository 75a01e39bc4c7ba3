import type { FastifyInstance } from 'fastify';
import type { Queryable } from '@dmarc/store';
import { reportReadRoutes, type ReadOptions } from './report-read-routes';
import { reportUploadRoute, type UploadOptions } from './report-upload-route';
import { requireTenant } from './tenant-scope';

export type IngestionRoutesOptions = UploadOptions & ReadOptions & { db: Queryable };

/**
 * The ingestion service's HTTP API, every route for the tenant of the request's API key:
 * POST /v1/reports, GET /v1/reports/{id}, GET /v1/ingestion/stats.
 */
export async function ingestionRoutes(app: FastifyInstance, options: IngestionRoutesOptions): Promise<void> {
  await app.register(async (scope) => {
    requireTenant(scope, options.db);
    await scope.register(reportReadRoutes, options);
    // Its own scope: the upload route replaces the body parsers, the reads keep Fastify's.
    await scope.register(reportUploadRoute, options);
  });
}
