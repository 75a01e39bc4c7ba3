import type { FastifyError, FastifyInstance } from 'fastify';

/** The one documented shape of every HTTP error this platform returns. */
export interface HttpErrorBody {
  error: string;
  message: string;
  field?: string;
}

/** An error a route throws on purpose: it becomes `{ error: code, message, field? }` with its status. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/**
 * Maps every error to the documented body. Fastify's own errors (validation, body too large,
 * unsupported media type) keep their status; anything unexpected is a 500 without internals.
 */
export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | HttpError, request, reply) => {
    if (err instanceof HttpError) {
      const body: HttpErrorBody = { error: err.code, message: err.message };
      if (err.field) body.field = err.field;
      return reply.status(err.statusCode).send(body);
    }
    const fe = err as FastifyError;
    if (fe.validation) {
      const first = fe.validation[0];
      const field = first?.instancePath ? first.instancePath.replace(/^\//, '').replace(/\//g, '.') : (first?.params as { missingProperty?: string })?.missingProperty;
      const body: HttpErrorBody = { error: 'VALIDATION_FAILED', message: fe.message };
      if (field) body.field = field;
      return reply.status(400).send(body);
    }
    if (fe.statusCode && fe.statusCode < 500) {
      return reply.status(fe.statusCode).send({ error: fe.code ?? 'BAD_REQUEST', message: fe.message });
    }
    request.log.error({ err: fe.message, code: fe.code }, 'unhandled error');
    return reply.status(500).send({ error: 'INTERNAL', message: 'internal error' });
  });
  app.setNotFoundHandler((request, reply) => {
    reply.status(404).send({ error: 'NOT_FOUND', message: `no route for ${request.method} ${request.url.split('?')[0]}` });
  });
}
