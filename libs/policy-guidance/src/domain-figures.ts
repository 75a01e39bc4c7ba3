// What the evaluator works from: one domain's counters over the window, summed per source IP (guidance-queries
// reads them from aggregate_counters), and the policy the domain is at.

/** One sending source of the domain over the window: every header-from of the domain summed. */
export interface SourceFigures {
  sourceIp: string;
  /** Its latest PTR name in the window, and that name's base domain; null without the DNS service or a name. */
  ptr: string | null;
  baseDomain: string | null;
  messages: number;
  /** DKIM or SPF aligned: a DMARC pass. */
  dmarcPass: number;
  dkimAligned: number;
  spfAligned: number;
  /** Days of the window on which it sent messages. */
  days: number;
  firstDay: string;
  lastDay: string;
  /** Its lowest daily share of DKIM-aligned messages (how steady the alignment is), null without messages. */
  worstDayDkimRate: number | null;
}

export interface DomainFigures {
  domain: string;
  /** The window, inclusive UTC days YYYY-MM-DD. */
  from: string;
  to: string;
  /** Days of the window with any report counted for the domain. */
  daysWithData: number;
  /** Most messages first. */
  sources: SourceFigures[];
}

export type PolicyValue = 'none' | 'quarantine' | 'reject';

/** The policy the domain is at: the one the tenant set, else the latest seen published in reports, else none. */
export interface CurrentPolicy {
  p: PolicyValue;
  /** Percentage of failing mail the policy applies to. */
  pct: number;
  origin: 'configured' | 'reported' | 'unknown';
}
