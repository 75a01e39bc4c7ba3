import type { FastifyInstance } from 'fastify';
import { findReportStatus, readIngestionStats } from '@dmarc/intake';
import { HttpError } from '@dmarc/service-runtime';
import type { Queryable } from '@dmarc/store';
import { tenantOf } from './tenant-scope';

export interface ReadOptions {
  db: Queryable;
  /** Longest window GET /v1/ingestion/stats serves, in days. */
  maxStatsDays: number;
  now?(): Date;
}

const reportStatusSchema = {
  type: 'object',
  required: ['id', 'status', 'receivedAt', 'updatedAt', 'filename', 'sizeBytes', 'sha256'],
  properties: {
    id: { type: 'string' },
    status: { type: 'string', enum: ['received', 'parsed', 'aggregated', 'failed'] },
    reason: { type: 'string' },
    receivedAt: { type: 'string', format: 'date-time' },
    updatedAt: { type: 'string', format: 'date-time' },
    filename: { type: ['string', 'null'] },
    sizeBytes: { type: 'integer' },
    sha256: { type: 'string' },
  },
} as const;

/** GET /v1/reports/{id} and GET /v1/ingestion/stats, for the caller's tenant only. */
export async function reportReadRoutes(scope: FastifyInstance, options: ReadOptions): Promise<void> {
  scope.get<{ Params: { id: string } }>(
    '/v1/reports/:id',
    { schema: { params: { type: 'object', properties: { id: { type: 'string', maxLength: 64 } } }, response: { 200: reportStatusSchema } } },
    async (request) => {
      const view = await findReportStatus(options.db, tenantOf(request), request.params.id);
      // 404 for another tenant's report too: a 403 would tell the caller that the id exists.
      if (!view) throw new HttpError(404, 'NOT_FOUND', `no report ${request.params.id}`, 'id');
      return view;
    },
  );

  scope.get<{ Querystring: { days: number } }>(
    '/v1/ingestion/stats',
    {
      schema: {
        querystring: { type: 'object', properties: { days: { type: 'integer', minimum: 1, maximum: options.maxStatsDays, default: 7 } } },
      },
    },
    async (request) => readIngestionStats(options.db, tenantOf(request), { days: request.query.days, now: options.now?.() ?? new Date() }),
  );
}
