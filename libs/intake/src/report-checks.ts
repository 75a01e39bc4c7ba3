import { CONTENT_TYPE_OF, describeHead, sniffReportContent } from './content-sniffing';
import { IntakeError } from './errors';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface PayloadLimits {
  /** Largest report accepted, in bytes. */
  maxBytes: number;
  /** How much of an oversize report is kept with its refusal. */
  refusedHeadBytes: number;
}

/** What the checks made of a payload: its content type, or the refusal and the bytes to keep with it. */
export type PayloadVerdict = { contentType: string; refused?: undefined } | { refused: IntakeError; kept: Buffer };

export function isTenantId(tenantId: string): boolean {
  return UUID.test(tenantId);
}

/** A tenant id that is not even a UUID is refused before anything is kept: there is no tenant to keep it for. */
export function checkTenantId(tenantId: string): void {
  if (!isTenantId(tenantId)) throw new IntakeError('INTAKE_TENANT_UNKNOWN', `tenant id ${JSON.stringify(tenantId.slice(0, 64))} is not a UUID`, 'tenantId');
}

/** The checks every report passes before it is kept: not empty, within the size limit, a kind of report ingestion takes. */
export function checkPayload(report: { payload: Buffer; contentType?: string | null }, limits: PayloadLimits): PayloadVerdict {
  const { payload } = report;
  const kind = sniffReportContent(payload);
  if (kind === 'empty') {
    const why = payload.length === 0 ? 'report is empty (0 bytes)' : `report holds only whitespace (${payload.length} bytes)`;
    return { refused: new IntakeError('INTAKE_EMPTY', why, 'payload'), kept: payload };
  }
  if (payload.length > limits.maxBytes) {
    const error = new IntakeError('INTAKE_TOO_LARGE', `report is ${payload.length} bytes, over the limit of ${limits.maxBytes}`, 'payload');
    return { refused: error, kept: payload.subarray(0, limits.refusedHeadBytes) };
  }
  if (kind === 'unknown') {
    const claimed = report.contentType ? `declared ${JSON.stringify(report.contentType)}, ` : '';
    const error = new IntakeError(
      'INTAKE_UNSUPPORTED',
      `content is not a report ingestion accepts (XML, gzip, zip, e-mail or JSON): ${claimed}starts with ${describeHead(payload)}`,
      'payload',
    );
    return { refused: error, kept: payload };
  }
  return { contentType: CONTENT_TYPE_OF[kind] };
}
