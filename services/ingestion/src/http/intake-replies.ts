import type { FastifyReply } from 'fastify';
import type { AcceptedReport, IntakeError } from '@dmarc/intake';
import { HttpError, isRetriable } from '@dmarc/service-runtime';

/** How one submitted report was answered: accepted (new or duplicate) or refused. */
export type ReportOutcome =
  | { kind: 'accepted'; report: AcceptedReport }
  | { kind: 'refused'; status: number; body: RefusalBody };

export interface RefusalBody {
  error: string;
  message: string;
  field?: string;
  /** The kept row of the refused report: GET /v1/reports/{id} tells its reason later. */
  id?: string;
}

const REFUSALS: Record<IntakeError['code'], { status: number; error: string }> = {
  INTAKE_EMPTY: { status: 400, error: 'EMPTY_REPORT' },
  INTAKE_TOO_LARGE: { status: 413, error: 'PAYLOAD_TOO_LARGE' },
  INTAKE_UNSUPPORTED: { status: 415, error: 'UNSUPPORTED_MEDIA_TYPE' },
  // The key named a tenant that is gone: the key is no longer good.
  INTAKE_TENANT_UNKNOWN: { status: 401, error: 'UNAUTHORIZED' },
};

/** The HTTP answer to a refusal; `field` names where the report was in the request (body, a form field). */
export function refusal(err: IntakeError, field: string): ReportOutcome {
  const { status, error } = REFUSALS[err.code];
  const body: RefusalBody = { error, message: err.message, field };
  if (err.reportId) body.id = err.reportId;
  return { kind: 'refused', status, body };
}

/** The body of an accepted report: 202 and `received` when new, 200 and the first copy's status for a duplicate. */
export function acceptedBody(report: AcceptedReport): { id: string; status: string; duplicate: boolean } {
  return { id: report.reportId, status: report.status, duplicate: report.duplicate };
}

export function sendOutcome(reply: FastifyReply, outcome: ReportOutcome): FastifyReply {
  if (outcome.kind === 'refused') return reply.status(outcome.status).send(outcome.body);
  const { report } = outcome;
  if (!report.duplicate) reply.header('location', `/v1/reports/${report.reportId}`);
  return reply.status(report.duplicate ? 200 : 202).send(acceptedBody(report));
}

/**
 * A store or broker failure while accepting: the sender should try again. Whatever was kept is found
 * again by its hash on the retry and published then, so a retry never makes a second copy.
 */
export function unavailable(err: unknown): HttpError | undefined {
  return isRetriable(err) ? new HttpError(503, 'SERVICE_UNAVAILABLE', 'the report could not be handed on just now; send it again') : undefined;
}
