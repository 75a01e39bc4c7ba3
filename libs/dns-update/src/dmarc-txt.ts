// The DMARC record the autopilot publishes: the approved policy's tags, plus the reporting tags the domain
// already publishes. The platform owns the policy (p, sp, pct, adkim, aspf); where reports go (rua, ruf) and
// how (fo, rf, ri) is the domain owner's, and dropping rua would stop the very reports the platform reads.
import { looksLikeDmarc } from '@dmarc/dns-records';
import type { AlignmentMode, PolicyValue } from '@dmarc/tenant-admin';

/** The policy tags of an approved change (what @dmarc/tenant-admin's putPolicy stores). */
export interface ApprovedPolicy {
  p: PolicyValue;
  /** null: the same as p, so the tag is left out. */
  sp: PolicyValue | null;
  pct: number;
  adkim: AlignmentMode;
  aspf: AlignmentMode;
}

/** Tags carried over from the published record, in this order, values as published (`!size` suffixes included). */
export const KEPT_TAGS = ['rua', 'ruf', 'fo', 'rf', 'ri'] as const;

/**
 * The record text for `policy`. `published` is the TXT texts now at `_dmarc.<domain>` (each record's strings
 * joined): the reporting tags of the first DMARC record among them are kept; any other tag (np, t, psd, an
 * unknown one) is not, since it would be a policy the tenant did not approve. No record: no reporting tags.
 */
export function dmarcRecordText(policy: ApprovedPolicy, published: readonly string[] = []): string {
  const tags = [`v=DMARC1`, `p=${policy.p}`];
  if (policy.sp !== null) tags.push(`sp=${policy.sp}`);
  tags.push(`pct=${policy.pct}`, `adkim=${policy.adkim}`, `aspf=${policy.aspf}`);
  const current = published.find(looksLikeDmarc);
  if (current !== undefined) {
    const found = reportingTags(current);
    for (const tag of KEPT_TAGS) {
      const value = found.get(tag);
      if (value !== undefined) tags.push(`${tag}=${value}`);
    }
  }
  return tags.join('; ');
}

/** The kept tags of a record, by lower-case name (the first of a repeated tag, as receivers read it). */
function reportingTags(record: string): Map<string, string> {
  const out = new Map<string, string>();
  const kept: ReadonlySet<string> = new Set(KEPT_TAGS);
  for (const part of record.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const tag = part.slice(0, eq).trim().toLowerCase();
    const value = part.slice(eq + 1).trim();
    if (kept.has(tag) && value !== '' && !out.has(tag)) out.set(tag, value);
  }
  return out;
}
