// Opting a domain in to the autopilot, out of it, and what the API shows of it (never the secret). Every
// opt-in, change and opt-out is in the audit trail, the secret left out.
import { nameProblem } from '@dmarc/dns-wire';
import type { Queryable } from '@dmarc/store';
import { appendAudit, commitChange, domainId, InvalidInputError, NotFoundError, parseDomainName, type Actor, type AdminContext } from '@dmarc/tenant-admin';
import { serverHostProblem } from './server-address';
import { TSIG_ALGORITHMS, type TsigAlgorithm } from './tsig';
import { listJobs, type UpdateJobView } from './update-jobs';

export const PROVIDERS = ['rfc2136'] as const;
export type ProviderName = (typeof PROVIDERS)[number];
export const DEFAULT_RECORD_TTL = 300;
export const RECORD_TTL_RANGE = { min: 60, max: 86_400 } as const;
/** Shortest secret accepted: 128 bits (RFC 8945 §6 asks for at least half the hash's output). */
export const MIN_SECRET_BYTES = 16;
export const MAX_SECRET_BYTES = 512;

/** What a tenant sends to opt in (PUT /v1/domains/{domain}/autopilot). */
export interface AutopilotSettingsInput {
  provider?: string;
  /** The zone's primary: an IPv4 or IPv6 address. */
  host: string;
  port?: number;
  /** The zone the record is in: the domain, a parent of it, or `_dmarc.<domain>` itself. */
  zone: string;
  keyName: string;
  algorithm: string;
  /** The TSIG secret, base64 (as named.conf and tsig-keygen write it). */
  secret: string;
  /** TTL of the published record, 60-86400 s. Default 300. */
  ttl?: number;
}

/** The settings without the secret: what the API answers and the audit trail records. */
export interface AutopilotSettings {
  domain: string;
  provider: ProviderName;
  host: string;
  port: number;
  zone: string;
  keyName: string;
  algorithm: TsigAlgorithm;
  ttl: number;
}

export interface AutopilotView extends AutopilotSettings {
  createdAt: string;
  updatedAt: string;
  /** The latest update jobs, newest first. */
  jobs: UpdateJobView[];
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const KEY_NAME = /^[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?$/;

/** Checks an opt-in request for `domain` (already a valid name); throws InvalidInputError naming the field. */
export function parseAutopilotSettings(domain: string, input: AutopilotSettingsInput): AutopilotSettings & { secret: string } {
  const provider = input.provider ?? 'rfc2136';
  if (!(PROVIDERS as readonly string[]).includes(provider)) throw new InvalidInputError('provider', `provider must be one of ${PROVIDERS.join(', ')}`);

  const host = typeof input.host === 'string' ? input.host.trim() : '';
  const hostProblem = serverHostProblem(host);
  if (hostProblem) throw new InvalidInputError('host', `host ${hostProblem}`);

  const port = input.port ?? 53;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new InvalidInputError('port', 'port must be an integer from 1 to 65535');

  const zone = parseDomainName(String(input.zone ?? ''), 'zone', { underscores: true });
  const name = `_dmarc.${domain}`;
  if (name !== zone && !name.endsWith(`.${zone}`)) throw new InvalidInputError('zone', `zone must contain ${name}: ${domain}, a parent of it, or ${name} itself`);

  const keyName = String(input.keyName ?? '').toLowerCase().replace(/\.$/, '');
  const keyProblem = nameProblem(keyName) ?? (keyName.split('.').every((l) => KEY_NAME.test(l)) ? undefined : 'labels hold only letters, digits, hyphens and underscores');
  if (keyProblem) throw new InvalidInputError('keyName', `keyName is not a valid key name: ${keyProblem}`);

  const algorithm = String(input.algorithm ?? '').toLowerCase();
  if (!(TSIG_ALGORITHMS as readonly string[]).includes(algorithm)) throw new InvalidInputError('algorithm', `algorithm must be one of ${TSIG_ALGORITHMS.join(', ')}`);

  const secret = String(input.secret ?? '').trim();
  if (secret === '' || !BASE64.test(secret)) throw new InvalidInputError('secret', 'secret must be base64 (as tsig-keygen writes it)');
  const bytes = Buffer.from(secret, 'base64').length;
  if (bytes < MIN_SECRET_BYTES || bytes > MAX_SECRET_BYTES) throw new InvalidInputError('secret', `secret must decode to ${MIN_SECRET_BYTES}-${MAX_SECRET_BYTES} bytes, not ${bytes}`);

  const ttl = input.ttl ?? DEFAULT_RECORD_TTL;
  if (!Number.isInteger(ttl) || ttl < RECORD_TTL_RANGE.min || ttl > RECORD_TTL_RANGE.max) {
    throw new InvalidInputError('ttl', `ttl must be an integer from ${RECORD_TTL_RANGE.min} to ${RECORD_TTL_RANGE.max} seconds`);
  }
  return { domain, provider: provider as ProviderName, host, port, zone, keyName, algorithm: algorithm as TsigAlgorithm, ttl, secret };
}

interface SettingsRow {
  provider: ProviderName;
  server_host: string;
  server_port: number;
  zone: string;
  tsig_key_name: string;
  tsig_algorithm: TsigAlgorithm;
  record_ttl: number;
  created_at: Date;
  updated_at: Date;
}

const SETTINGS_COLUMNS = 'provider, server_host, server_port, zone, tsig_key_name, tsig_algorithm, record_ttl, created_at, updated_at';

const settingsOf = (domain: string, r: SettingsRow): AutopilotSettings => ({
  domain,
  provider: r.provider,
  host: r.server_host,
  port: r.server_port,
  zone: r.zone,
  keyName: r.tsig_key_name,
  algorithm: r.tsig_algorithm,
  ttl: r.record_ttl,
});

async function settingsRow(db: Queryable, id: string): Promise<SettingsRow | undefined> {
  const { rows } = await db.query<SettingsRow>(`SELECT ${SETTINGS_COLUMNS} FROM dns_autopilot WHERE domain_id = $1`, [id]);
  return rows[0];
}

const audit = (actor: Actor, domain: string, action: string, before: unknown, after: unknown) => ({
  tenantId: actor.tenantId,
  actor: actor.name,
  action,
  entity: `autopilot:${domain}`,
  before,
  after,
});

/** The domain's autopilot and its latest jobs; NotFoundError when the domain is not the tenant's or not opted in. */
export async function getAutopilot(db: Queryable, tenantId: string, domain: string, jobLimit = 20): Promise<AutopilotView> {
  const id = await domainId(db, tenantId, domain);
  const row = await settingsRow(db, id);
  if (!row) throw new NotFoundError(`DNS autopilot of ${domain}`);
  return { ...settingsOf(domain, row), createdAt: row.created_at.toISOString(), updatedAt: row.updated_at.toISOString(), jobs: await listJobs(db, id, jobLimit) };
}

/**
 * Opts `domain` in, or changes its settings (checked with parseAutopilotSettings first). The next approved
 * policy change is written to DNS; the record already published is not touched until then.
 */
export async function putAutopilot(ctx: AdminContext, actor: Actor, domain: string, input: AutopilotSettingsInput): Promise<AutopilotView> {
  const s = parseAutopilotSettings(domain, input);
  await commitChange(ctx, async (tx) => {
    // Locks the domain, as policy writes do: an opt-in and a policy change of one domain commit in turn.
    const id = await domainId(tx, actor.tenantId, domain, true);
    const before = await settingsRow(tx, id);
    await tx.query(
      `INSERT INTO dns_autopilot (domain_id, tenant_id, provider, server_host, server_port, zone, tsig_key_name, tsig_algorithm, tsig_secret, record_ttl)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
       ON CONFLICT (domain_id) DO UPDATE SET provider = excluded.provider, server_host = excluded.server_host, server_port = excluded.server_port,
         zone = excluded.zone, tsig_key_name = excluded.tsig_key_name, tsig_algorithm = excluded.tsig_algorithm, tsig_secret = excluded.tsig_secret,
         record_ttl = excluded.record_ttl, updated_at = now()`,
      [id, actor.tenantId, s.provider, s.host, s.port, s.zone, s.keyName, s.algorithm, s.secret, s.ttl],
    );
    const { secret: _secret, ...after } = s;
    await appendAudit(tx, audit(actor, domain, before ? 'autopilot.update' : 'autopilot.enable', before ? settingsOf(domain, before) : null, after));
  });
  return getAutopilot(ctx.db, actor.tenantId, domain);
}

/** Opts `domain` out: its settings (and secret) are deleted, its jobs not yet in a worker's hands cancelled. */
export function deleteAutopilot(ctx: AdminContext, actor: Actor, domain: string): Promise<void> {
  return commitChange(ctx, async (tx) => {
    const id = await domainId(tx, actor.tenantId, domain, true);
    const before = await settingsRow(tx, id);
    if (!before) throw new NotFoundError(`DNS autopilot of ${domain}`);
    await tx.query('DELETE FROM dns_autopilot WHERE domain_id = $1', [id]);
    await tx.query(
      `UPDATE dns_update_jobs SET status = 'cancelled', last_error = 'the domain opted out of the DNS autopilot', finished_at = now(), updated_at = now()
        WHERE domain_id = $1 AND status IN ('pending', 'applied') AND (lease_until IS NULL OR lease_until <= now())`,
      [id],
    );
    await appendAudit(tx, audit(actor, domain, 'autopilot.disable', settingsOf(domain, before), null));
  });
}
