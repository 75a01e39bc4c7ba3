// The autopilot worker: takes due update jobs, writes each domain's DMARC record through its provider,
// reads it back from the authoritative server, audits the verified change, retries what may pass with
// backoff, and alerts when a job fails for good. Several workers (replicas of the dns service) share the
// queue safely: claims skip locked rows and hold a lease.
import { looksLikeDmarc } from '@dmarc/dns-records';
import { upstreamServer } from '@dmarc/dns-wire';
import { backoffDelay, describeError } from '@dmarc/service-runtime';
import type { Store } from '@dmarc/store';
import type { AlertSink } from './alert-sink';
import { dmarcRecordText } from './dmarc-txt';
import type { DnsProvider } from './dns-provider';
import { DnsUpdateError } from './errors';
import { Rfc2136Provider } from './rfc2136-provider';
import { isInternalAddress } from './server-address';
import { claimDueJobs, markAlerted, markApplied, markAttemptFailed, markCancelled, markVerified, unalertedFailures, type ClaimedJob, type ProviderSettings } from './update-jobs';

export interface AutopilotLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** A verified change, for the wiring to drop cached answers of the name. */
export interface VerifiedChange {
  tenantId: string;
  domain: string;
  /** `_dmarc.<domain>` */
  name: string;
  record: string;
}

export interface AutopilotWorkerOptions {
  db: Store;
  alerts: AlertSink;
  logger: AutopilotLogger;
  /** Builds a domain's provider from its settings. Default: RFC 2136 (Rfc2136Provider). */
  providerFor?: (settings: ProviderSettings) => DnsProvider;
  /** May updates go to loopback, private or link-local addresses? Default false (server-side request forgery). */
  allowInternalServers?: boolean;
  /** Attempts of one job before it fails and alerts. Default 8. */
  maxAttempts?: number;
  /** Delay before the 2nd attempt; doubled each time (with jitter) up to retryMaxMs. Default 30 s, 30 min. */
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** How long a claimed job is this worker's; longer than an attempt can take. Default 2 min. */
  leaseMs?: number;
  /** Time between polls of the queue when it was empty. Default 1000 ms. */
  pollMs?: number;
  /** Jobs (of different domains) worked on at once. Default 8. */
  batchSize?: number;
  /** Provider timeout per exchange. Default 5000 ms. */
  timeoutMs?: number;
  onVerified?: (change: VerifiedChange) => Promise<void> | void;
  /**
   * Work only these tenants' jobs (and raise only their alerts). Default: every tenant's. For a worker placed
   * where only some tenants' primaries are reachable, and for tests sharing one database.
   */
  tenants?: readonly string[];
  /** Milliseconds since the epoch, for scheduling (TSIG signs with the wall clock); tests move it to make retries due. */
  now?: () => number;
}

export const AUTOPILOT_ACTOR = 'dns-autopilot';

export class AutopilotWorker {
  private readonly o: Required<Omit<AutopilotWorkerOptions, 'onVerified' | 'tenants'>> & Pick<AutopilotWorkerOptions, 'onVerified' | 'tenants'>;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;

  constructor(options: AutopilotWorkerOptions) {
    this.o = {
      providerFor: (s) => rfc2136Provider(s, options.timeoutMs ?? 5000),
      allowInternalServers: false,
      maxAttempts: 8,
      retryBaseMs: 30_000,
      retryMaxMs: 30 * 60_000,
      leaseMs: 120_000,
      pollMs: 1000,
      batchSize: 8,
      timeoutMs: 5000,
      now: Date.now,
      ...options,
    };
    if (!Number.isInteger(this.o.maxAttempts) || this.o.maxAttempts < 1) throw new RangeError(`autopilot: maxAttempts must be an integer >= 1, got ${this.o.maxAttempts}`);
  }

  /** Polls the queue until stop(). */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  /** Finishes the pass in hand, then stops. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** One pass: claim due jobs and work them, then raise the alerts still owed. Returns the jobs worked. */
  async runOnce(): Promise<{ worked: number; alerted: number }> {
    const now = this.o.now();
    const jobs = await claimDueJobs(this.o.db, new Date(now), new Date(now + this.o.leaseMs), this.o.batchSize, this.o.tenants ?? null);
    await Promise.all(jobs.map((job) => this.work(job)));
    return { worked: jobs.length, alerted: await this.raiseOwedAlerts() };
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.runOnce().then(
        // A full batch may mean more is due: go again at once.
        ({ worked }) => this.schedule(worked >= this.o.batchSize ? 0 : this.o.pollMs),
        (err: unknown) => {
          this.o.logger.warn({ err: describeError(err) }, 'dns autopilot: pass failed; trying again');
          this.schedule(this.o.pollMs);
        },
      );
    }, delayMs);
  }

  private async work(job: ClaimedJob): Promise<void> {
    const { db, logger } = this.o;
    const log = { jobId: job.id, tenantId: job.tenantId, domain: job.domain, attempt: job.attempts };
    const at = () => new Date(this.o.now());
    if (!job.settings) {
      await markCancelled(db, job, 'the domain opted out of the DNS autopilot', at());
      return;
    }
    const name = `_dmarc.${job.domain}`;
    let provider: DnsProvider | undefined;
    let record: string | undefined;
    try {
      provider = this.provider(job.settings);
      // The reporting tags (rua, ruf...) already published are kept: read them from the primary itself.
      const before = await provider.readTxt(name);
      record = dmarcRecordText(job.policy, before);
      await provider.replaceTxt(name, record, job.settings.ttl);
      if (!(await markApplied(db, job, record, at()))) return logger.warn(log, 'dns autopilot: job taken over by another worker after its lease; result dropped');
      const after = await provider.readTxt(name);
      const dmarc = after.filter(looksLikeDmarc);
      if (dmarc.length !== 1 || dmarc[0] !== record) {
        throw new DnsUpdateError('DNS_UPDATE_NOT_VERIFIED', `${provider.description}: ${name} reads ${JSON.stringify(dmarc)} after the update, not ${JSON.stringify(record)}`);
      }
      const audited = await markVerified(db, job, at(), {
        tenantId: job.tenantId,
        actor: AUTOPILOT_ACTOR,
        action: 'dns.autopilot.update',
        entity: `dns:${name}`,
        before: { records: before },
        after: { record, ttl: job.settings.ttl, provider: provider.description, jobId: job.id, policyVersion: job.policyVersion, requestedBy: job.requestedBy },
      });
      if (!audited) return logger.warn(log, 'dns autopilot: job taken over by another worker after its lease; result dropped');
      logger.info({ ...log, record, provider: provider.description }, 'dns autopilot: DMARC record written and verified');
    } catch (err) {
      return this.attemptFailed(job, err, provider, record);
    }
    // The change is done and audited; a failure to drop cached answers only delays readers until their TTL.
    try {
      await this.o.onVerified?.({ tenantId: job.tenantId, domain: job.domain, name, record });
    } catch (err) {
      logger.warn({ ...log, err: describeError(err) }, 'dns autopilot: dropping the cached answer after a verified change failed');
    }
  }

  private provider(settings: ProviderSettings): DnsProvider {
    if (!this.o.allowInternalServers && isInternalAddress(settings.host)) {
      throw new DnsUpdateError('DNS_UPDATE_INVALID_SETTINGS', `${settings.host} is a loopback, private or link-local address, which this platform does not send updates to`);
    }
    return this.o.providerFor(settings);
  }

  private async attemptFailed(job: ClaimedJob, err: unknown, provider: DnsProvider | undefined, record: string | undefined): Promise<void> {
    const { logger, db } = this.o;
    const code = err instanceof DnsUpdateError ? err.code : (err as { code?: unknown })?.code;
    const error = { code: typeof code === 'string' ? code : 'DNS_UPDATE_UNEXPECTED', message: err instanceof DnsUpdateError ? err.message : describeError(err) };
    // Only a DnsUpdateError says whether waiting helps; anything else (a database hiccup) is tried again too.
    const retriable = err instanceof DnsUpdateError ? err.retriable : true;
    const last = !retriable || job.attempts >= this.o.maxAttempts;
    const now = this.o.now();
    const retryAt = last ? undefined : new Date(now + backoffDelay(job.attempts, this.o.retryBaseMs, this.o.retryMaxMs));
    const log = { jobId: job.id, tenantId: job.tenantId, domain: job.domain, attempt: job.attempts, provider: provider?.description, ...error, retriable };
    try {
      await markAttemptFailed(db, job, { ...error, record, retryAt }, new Date(now));
    } catch (dbErr) {
      // The lease runs out and the job is claimed again: the attempt is not lost, only repeated.
      logger.error({ ...log, db: describeError(dbErr) }, 'dns autopilot: could not record a failed attempt');
      return;
    }
    if (retryAt) logger.warn({ ...log, retryAt: retryAt.toISOString() }, 'dns autopilot: update failed; will retry');
    else logger.error(log, 'dns autopilot: update failed for good; raising an alert');
  }

  /** Raises the alert of every failed job that has none yet: an alert lost to a crash or a sink failure is raised on a later pass. */
  private async raiseOwedAlerts(): Promise<number> {
    let raised = 0;
    for (const job of await unalertedFailures(this.o.db, 50, this.o.tenants ?? null)) {
      try {
        await this.o.alerts.raise({
          tenantId: job.tenantId,
          domain: job.domain,
          rule: 'dns_update_failed',
          severity: 'high',
          summary: `the approved DMARC policy (version ${job.policyVersion ?? '?'}) could not be written to _dmarc.${job.domain} after ${job.attempts} attempt(s): ${job.lastError ?? 'unknown error'}`,
          evidence: { jobId: job.id, name: `_dmarc.${job.domain}`, record: job.record, policyVersion: job.policyVersion, requestedBy: job.requestedBy, attempts: job.attempts, errorCode: job.lastErrorCode, error: job.lastError },
        });
      } catch (err) {
        this.o.logger.warn({ jobId: job.id, err: describeError(err) }, 'dns autopilot: raising an alert failed; trying again next pass');
        continue;
      }
      await markAlerted(this.o.db, job.id, new Date(this.o.now()));
      raised++;
    }
    return raised;
  }
}

/** The RFC 2136 provider of a domain's settings; a host that is not an IP literal is not retriable. */
export function rfc2136Provider(s: ProviderSettings, timeoutMs: number): DnsProvider {
  let server;
  try {
    server = upstreamServer(s.host, s.port);
  } catch (err) {
    throw new DnsUpdateError('DNS_UPDATE_INVALID_SETTINGS', describeError(err), { cause: err });
  }
  return new Rfc2136Provider({ server, zone: s.zone, key: { name: s.keyName, algorithm: s.algorithm, secret: Buffer.from(s.secret, 'base64') }, timeoutMs });
}
