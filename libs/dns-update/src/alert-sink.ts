// Where the autopilot's alerts go. Defined here, wired by the service: the dns service plugs the platform's alert
// store and topic (dmarc.alerts, @dmarc/threat-detection) in behind this interface.

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
