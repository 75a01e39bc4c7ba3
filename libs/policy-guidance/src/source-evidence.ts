import type { SourceFigures } from './domain-figures';
import type { ApprovedSourceRef } from './source-matching';

/** One source's figures as guidance and proposals show them: the counts and the rates they are judged on. */
export interface SourceEvidence {
  sourceIp: string;
  ptr: string | null;
  baseDomain: string | null;
  messages: number;
  /** Its share of the domain's messages in the window. */
  share: number;
  /** DMARC pass (DKIM or SPF aligned) / messages. */
  alignedRate: number;
  dkimAlignedRate: number;
  spfAlignedRate: number;
  days: number;
  firstDay: string;
  lastDay: string;
  worstDayDkimRate: number | null;
  /** The approval covering it, or null. */
  approvedBy: ApprovedSourceRef | null;
}

/** The evidence of a source with messages (the query keeps only those), against the domain's total. */
export function evidenceOf(s: SourceFigures, totalMessages: number, approvedBy: ApprovedSourceRef | null): SourceEvidence {
  return {
    sourceIp: s.sourceIp,
    ptr: s.ptr,
    baseDomain: s.baseDomain,
    messages: s.messages,
    share: s.messages / totalMessages,
    alignedRate: s.dmarcPass / s.messages,
    dkimAlignedRate: s.dkimAligned / s.messages,
    spfAlignedRate: s.spfAligned / s.messages,
    days: s.days,
    firstDay: s.firstDay,
    lastDay: s.lastDay,
    worstDayDkimRate: s.worstDayDkimRate,
    approvedBy,
  };
}

/** A share as people read it: 0.9812 → "98.12 %". */
export const percent = (share: number): string => `${(Math.floor(share * 10_000) / 100).toFixed(2)} %`;
