import fastifyMultipart from '@fastify/multipart';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { IntakeError, readWithinLimit, type IncomingReport, type LimitedRead, type ReportIntake } from '@dmarc/intake';
import { HttpError } from '@dmarc/service-runtime';
import { refusal, sendOutcome, unavailable, acceptedBody, type RefusalBody, type ReportOutcome } from './intake-replies';
import { tenantOf } from './tenant-scope';
import { discardUnreadBody } from './unread-body';

export interface UploadOptions {
  /** The intake, once the service is connected to Kafka; undefined while it starts. */
  intake(): ReportIntake | undefined;
  /** Largest report accepted, in bytes (MAX_REPORT_BYTES). */
  maxBytes: number;
  /** How much of an oversize report is read and kept with its refusal. */
  refusedHeadBytes: number;
  /** Most file parts one multipart request may carry. */
  maxFiles: number;
  /** How long the rest of an oversize body is drained after the 413 (default LINGER_MS). */
  lingerMs?: number;
  /** Told of every report answered, for metrics and logs. */
  onOutcome?(outcome: ReportOutcome): void;
}

type Meta = Omit<IncomingReport, 'payload'>;

/**
 * POST /v1/reports: one report as the raw body (any of the accepted types, or octet-stream: the bytes
 * decide), or several as the file parts of a multipart/form-data body. Bodies are streamed and read no
 * further than MAX_REPORT_BYTES; Fastify's own body limit and parsers are out of the way in this scope.
 */
export async function reportUploadRoute(scope: FastifyInstance, options: UploadOptions): Promise<void> {
  scope.removeAllContentTypeParsers();
  // Hand the handler the request stream untouched: it reads it under our limit, not Fastify's.
  scope.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
  await scope.register(fastifyMultipart, {
    // One more byte than the limit, so a file that is too large is seen to be so by reading it.
    limits: { fileSize: options.maxBytes + 1, files: options.maxFiles, fields: 32, fieldSize: 64 * 1024, parts: options.maxFiles + 32 },
  });

  scope.post('/v1/reports', async (request, reply) => {
    const intake = options.intake();
    if (!intake) {
      reply.header('retry-after', '5');
      throw new HttpError(503, 'SERVICE_UNAVAILABLE', 'ingestion is starting (not connected to Kafka yet); send the report again shortly');
    }
    const tenantId = tenantOf(request);
    if (request.isMultipart()) return uploadParts(request, reply, intake, tenantId);
    const body = request.body as AsyncIterable<Uint8Array> | undefined;
    const meta: Meta = { tenantId, filename: filenameOf(request), contentType: request.headers['content-type'] ?? null, source: 'http' };
    // No body at all (no Content-Length, no chunks) is an empty report, refused and kept like any other.
    const read: LimitedRead = body
      ? await readWithinLimit(body, { maxBytes: options.maxBytes, headBytes: options.refusedHeadBytes, declaredBytes: declaredLength(request) })
      : { complete: true, bytes: Buffer.alloc(0) };
    const outcome = await submit(intake, request, reply, read, meta, 'body', options.lingerMs);
    options.onOutcome?.(outcome);
    return sendOutcome(reply, outcome);
  });

  /**
   * Each file part is one report, answered in `reports` in the order sent. Parts accepted before a
   * refused one stay accepted (sending them again is answered as a duplicate); a part over the limit
   * stops the reading of the request, so the parts after it are not read at all.
   */
  async function uploadParts(request: FastifyRequest, reply: FastifyReply, intake: ReportIntake, tenantId: string) {
    const entries: Array<{ field: string; filename: string | null; outcome: ReportOutcome }> = [];
    let requestError: (RefusalBody & { status: number }) | undefined;
    try {
      for await (const part of request.parts()) {
        if (part.type !== 'file') continue;
        const read = await readWithinLimit(part.file, { maxBytes: options.maxBytes, headBytes: options.refusedHeadBytes });
        const filename = cleanFilename(part.filename);
        const partMeta = { tenantId, filename, contentType: part.mimetype, source: 'http' };
        const outcome = await submit(intake, request, reply, read, partMeta, part.fieldname, options.lingerMs);
        options.onOutcome?.(outcome);
        entries.push({ field: part.fieldname, filename, outcome });
        if (!read.complete) break;
      }
    } catch (err) {
      if (err instanceof HttpError) throw err;
      requestError = multipartFailure(err, options.maxFiles);
    }

    const reports = entries.map(({ field, filename, outcome }) =>
      outcome.kind === 'accepted' ? { field, filename, ...acceptedBody(outcome.report) } : { field, filename, ...outcome.body },
    );
    if (requestError) {
      const { status, ...body } = requestError;
      return reply.status(status).send({ ...body, reports });
    }
    if (entries.length === 0) {
      return reply.status(400).send({ error: 'EMPTY_REPORT', message: 'the multipart body has no file part: send each report as a file', field: 'file', reports });
    }
    const refused = entries.find((e) => e.outcome.kind === 'refused')?.outcome;
    if (refused?.kind === 'refused') return reply.status(refused.status).send({ ...refused.body, reports });
    const anyNew = entries.some((e) => e.outcome.kind === 'accepted' && !e.outcome.report.duplicate);
    return reply.status(anyNew ? 202 : 200).send({ reports });
  }
}

async function submit(
  intake: ReportIntake,
  request: FastifyRequest,
  reply: FastifyReply,
  read: LimitedRead,
  meta: Meta,
  field: string,
  lingerMs: number | undefined,
): Promise<ReportOutcome> {
  try {
    if (!read.complete) {
      discardUnreadBody(request, reply, lingerMs);
      const { head, bytesRead, sha256, declaredBytes } = read;
      return refusal(await intake.refuseOversize({ ...meta, head, bytesRead, sha256, declaredBytes }), field);
    }
    return { kind: 'accepted', report: await intake.accept({ ...meta, payload: read.bytes }) };
  } catch (err) {
    if (err instanceof IntakeError) return refusal(err, field);
    throw unavailable(err) ?? err;
  }
}

// Errors of the multipart reader itself (limits, a malformed body), as opposed to a refused report.
function multipartFailure(err: unknown, maxFiles: number): RefusalBody & { status: number } {
  const code = (err as { code?: unknown }).code;
  if (code === 'FST_FILES_LIMIT' || code === 'FST_PARTS_LIMIT') {
    return { status: 413, error: 'PAYLOAD_TOO_LARGE', message: `more than ${maxFiles} files in one request; the first ${maxFiles} were taken`, field: 'file' };
  }
  if (code === 'FST_FIELDS_LIMIT') return { status: 413, error: 'PAYLOAD_TOO_LARGE', message: 'too many form fields', field: 'body' };
  const text = err instanceof Error ? err.message.split('\n')[0] : String(err);
  return { status: 400, error: 'MALFORMED_MULTIPART', message: `the multipart body could not be read: ${text}`, field: 'body' };
}

function declaredLength(request: FastifyRequest): number | undefined {
  const header = request.headers['content-length'];
  return header !== undefined && /^\d+$/.test(header) ? Number(header) : undefined;
}

// The raw body's name comes from `?filename=` or a Content-Disposition header, as curl and mail
// pipelines send it.
function filenameOf(request: FastifyRequest): string | null {
  const query = (request.query as { filename?: unknown }).filename;
  if (typeof query === 'string') return cleanFilename(query);
  const disposition = request.headers['content-disposition'];
  const extended = disposition && /filename\*\s*=\s*(?:UTF-8|utf-8)''([^;]+)/.exec(disposition)?.[1];
  if (extended) return cleanFilename(safeDecode(extended));
  const plain = disposition && /filename\s*=\s*(?:"([^"]*)"|([^;\s]+))/.exec(disposition);
  return plain ? cleanFilename(plain[1] ?? plain[2]) : null;
}

/** Only the last path segment, printable and at most 255 characters: a name, never a path. */
function cleanFilename(name: string | undefined): string | null {
  const base = (name ?? '').split(/[\\/]/).pop()!.replace(/[\x00-\x1f\x7f]/g, '').trim().slice(0, 255);
  return base === '' ? null : base;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
