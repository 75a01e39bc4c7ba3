import type { ReportParsed } from '@dmarc/contracts';

/** The DKIM selectors one tenant's reports showed for one signing domain. */
export interface SelectorsSeen {
  tenantId: string;
  /** The d= domain, lower case, no root dot. */
  domain: string;
  /** Distinct, lower case, in first-seen order. */
  selectors: string[];
}

/**
 * Per tenant and signing domain, the selectors the chunks' DKIM results name: what the DNS watcher needs to
 * follow `<selector>._domainkey.<domain>`. Results without a selector or domain are skipped; whether a
 * selector is a valid DNS label is for the store to decide.
 */
export function dkimSelectorsSeen(chunks: readonly ReportParsed[]): SelectorsSeen[] {
  const seen = new Map<string, SelectorsSeen>();
  for (const chunk of chunks) {
    for (const record of chunk.records) {
      for (const { domain, selector } of record.dkim) {
        const d = domain.trim().toLowerCase().replace(/\.$/, '');
        const s = selector?.trim().toLowerCase();
        if (!d || !s) continue;
        const key = `${chunk.tenantId}\u0000${d}`;
        let entry = seen.get(key);
        if (!entry) seen.set(key, (entry = { tenantId: chunk.tenantId, domain: d, selectors: [] }));
        if (!entry.selectors.includes(s)) entry.selectors.push(s);
      }
    }
  }
  return [...seen.values()];
}
