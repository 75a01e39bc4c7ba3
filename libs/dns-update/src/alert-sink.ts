// Where the autopilot's alerts go. Defined here, wired by the service: the platform's alert store and topic
// (dmarc.alerts) plug in behind this interface; until then the wiring logs them.

export type AlertSeverity = 'low' | 'medium' | 'high' | 'critical';

export interface DnsAlert {
  tenantId: string;
  domain: string;
  /** `dns_update_failed`: an approved DMARC change could not be written to DNS after its last attempt. */
  rule: 'dns_update_failed';
  severity: AlertSeverity;
  /** One line for a person. */
  summary: string;
  /** What a person needs to act: the job, the record, the server, the error. */
  evidence: Record<string, unknown>;
}

export interface AlertSink {
  /** Resolves once the alert is stored; a rejection makes the worker raise it again on its next pass. */
  raise(alert: DnsAlert): Promise<void>;
}

/** The default sink: one error line per alert. */
export function loggingAlertSink(logger: { error(obj: object, msg: string): void }): AlertSink {
  return {
    async raise(alert) {
      logger.error({ alert }, `alert ${alert.rule} (${alert.severity}) for ${alert.domain}: ${alert.summary}`);
    },
  };
}
