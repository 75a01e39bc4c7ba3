import type { OutgoingMessage } from '@dmarc/bus';
import { type DnsChange, TOPICS } from '@dmarc/contracts';

export const DNS_CHANGES_TOPIC = TOPICS.dnsChanges;

/** The value of a dmarc.dns.changes message (schemas/dmarc.dns.changes/v1.avsc). */
export type DnsChangeMessage = DnsChange;

/** The message for a stored change; keyed by tenant and domain so one domain's changes keep their order. */
export function changeMessage(change: DnsChangeMessage): OutgoingMessage<DnsChangeMessage> {
  return {
    key: `${change.tenantId}:${change.domain}`,
    tenantId: change.tenantId,
    value: {
      tenantId: change.tenantId,
      domain: change.domain,
      recordType: change.recordType,
      name: change.name,
      selector: change.selector,
      change: change.change,
      previous: change.previous,
      current: change.current,
      detectedAt: change.detectedAt,
    },
  };
}
