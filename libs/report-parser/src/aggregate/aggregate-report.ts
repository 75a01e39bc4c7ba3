/**
 * The normalised aggregate report (RFC 7489 appendix C, RFC 9990, and the pre-RFC draft): what `dmarc parse`
 * prints and what the parsing service publishes. Absent optional fields are `null`, never missing, so every
 * report has the same shape whichever format it came in.
 */

export type Disposition = 'none' | 'quarantine' | 'reject' | 'pass';
export type AlignmentResult = 'pass' | 'fail';

/** Which schema the XML followed: the RFC 9990 namespace or elements, RFC 7489, or the draft without `<version>`. */
export type AggregateFormat = 'rfc9990' | 'rfc7489' | 'draft';

export interface PolicyPublished {
  readonly domain: string;
  readonly p: string | null;
  readonly sp: string | null;
  /** RFC 9990: policy for non-existent subdomains. */
  readonly np: string | null;
  /** RFC 7489 only (RFC 9990 dropped it). */
  readonly pct: number | null;
  readonly adkim: string | null;
  readonly aspf: string | null;
  readonly fo: string | null;
  /** RFC 9990 `t=`: "y" or "n". */
  readonly testing: string | null;
  /** RFC 9990: "psl" or "treewalk". */
  readonly discoveryMethod: string | null;
}

export interface PolicyOverrideReason {
  /** forwarded, sampled_out, trusted_forwarder, mailing_list, local_policy, other; RFC 9990 adds policy_test_mode. */
  readonly type: string;
  readonly comment: string | null;
}

export interface DkimAuthResult {
  readonly domain: string;
  readonly selector: string | null;
  /** none, pass, fail, policy, neutral, temperror, permerror (lower case). */
  readonly result: string;
  readonly humanResult: string | null;
}

export interface SpfAuthResult {
  readonly domain: string;
  /** helo or mfrom; null when the reporter does not say (RFC 7489 makes it optional). */
  readonly scope: string | null;
  /** none, neutral, pass, fail, softfail, temperror, permerror (lower case). */
  readonly result: string;
  readonly humanResult: string | null;
}

export interface AggregateRecord {
  readonly sourceIp: string;
  readonly count: number;
  readonly disposition: Disposition;
  /** policy_evaluated/dkim: DKIM-aligned pass or not. */
  readonly dkimAligned: AlignmentResult;
  /** policy_evaluated/spf: SPF-aligned pass or not. */
  readonly spfAligned: AlignmentResult;
  readonly reasons: readonly PolicyOverrideReason[];
  readonly headerFrom: string;
  readonly envelopeFrom: string | null;
  readonly envelopeTo: string | null;
  readonly dkim: readonly DkimAuthResult[];
  readonly spf: readonly SpfAuthResult[];
}

/** Everything before the first record: known before any record is read, so it is the stream's first event. */
export interface AggregateHeader {
  readonly kind: 'aggregate';
  /** The `<version>` text; "2.0" for RFC 9990 without one; "draft" for the pre-RFC format. */
  readonly version: string;
  readonly format: AggregateFormat;
  readonly orgName: string;
  readonly email: string | null;
  readonly extraContactInfo: string | null;
  readonly reportId: string;
  readonly dateRange: { readonly begin: string; readonly end: string };
  /** report_metadata/error texts. */
  readonly errors: readonly string[];
  readonly generator: string | null;
  readonly policy: PolicyPublished;
}

export interface AggregateReport extends AggregateHeader {
  readonly records: readonly AggregateRecord[];
  /** What was tolerated or repaired to read this report, one line per kind. */
  readonly repairs: readonly string[];
}

/** Closes an aggregate report in the stream: the totals, and the repairs (some are only found late). */
export interface AggregateSummary {
  readonly recordCount: number;
  readonly messageCount: number;
  readonly repairs: readonly string[];
}
