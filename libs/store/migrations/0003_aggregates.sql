-- Aggregation: counters per tenant / policy domain / UTC day / source IP / header-from, the policy each
-- domain published per day, and per-report bookkeeping. Written only by the aggregation consumer, one
-- chunk per statement together with its processed_messages row, so a redelivered chunk is never
-- counted twice.
--
-- The day is the UTC day of the report's begin (date_range.begin): a report covers about one day and
-- is attributed whole to the day it starts, even when it spans midnight, so a report's records never
-- split across days and re-reading it always lands on the same rows.

CREATE TABLE aggregate_counters (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  -- Lower-case, no trailing dot, like domains.name.
  domain text NOT NULL,
  day date NOT NULL,
  -- As reported; IPv6 in its canonical compressed lower-case form so one address is one row.
  source_ip text NOT NULL,
  header_from text NOT NULL,
  messages bigint NOT NULL DEFAULT 0 CHECK (messages >= 0),
  disposition_none bigint NOT NULL DEFAULT 0,
  disposition_quarantine bigint NOT NULL DEFAULT 0,
  disposition_reject bigint NOT NULL DEFAULT 0,
  -- RFC 9990 added `pass` as a disposition (the message passed DMARC and nothing was applied).
  disposition_pass bigint NOT NULL DEFAULT 0,
  dkim_aligned bigint NOT NULL DEFAULT 0,
  spf_aligned bigint NOT NULL DEFAULT 0,
  -- DKIM or SPF aligned: what DMARC calls a pass.
  dmarc_pass bigint NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now(),
  -- The key's prefix serves every read: one tenant's domain over a range of days.
  PRIMARY KEY (tenant_id, domain, day, source_ip, header_from)
);

-- The policy a domain published, as reporters saw it, per day: the view of the report whose period
-- ends last (ties to the greater report id), so the row does not depend on the order reports arrive in.
CREATE TABLE aggregate_policies (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  domain text NOT NULL,
  day date NOT NULL,
  p text,
  sp text,
  np text,
  pct integer,
  adkim text,
  aspf text,
  fo text,
  testing text,
  observed_at timestamptz NOT NULL,
  report_id text NOT NULL,
  PRIMARY KEY (tenant_id, domain, day)
);

-- One row per report being aggregated. A report travels as chunks 0..n-1; the last one says n (as its
-- index + 1) and the record count, so the report is complete when chunks_seen reaches chunk_count,
-- whatever order the chunks came in. Duplicates (duplicate_of set) are tracked but never counted.
CREATE TABLE aggregate_reports (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  -- The raw report's id as the pipeline carries it (raw_reports.id when it is one); no foreign key, so
  -- retention may purge raw reports without touching what was counted.
  report_id text NOT NULL,
  domain text NOT NULL,
  day date NOT NULL,
  org_name text NOT NULL,
  external_report_id text NOT NULL,
  begin_at timestamptz NOT NULL,
  end_at timestamptz NOT NULL,
  duplicate_of text,
  chunks_seen integer NOT NULL CHECK (chunks_seen > 0),
  chunk_count integer CHECK (chunk_count > 0),
  records_seen bigint NOT NULL,
  record_count bigint,
  messages bigint NOT NULL,
  first_seen_at timestamptz NOT NULL DEFAULT now(),
  completed_at timestamptz,
  PRIMARY KEY (tenant_id, report_id)
);
CREATE INDEX aggregate_reports_tenant_domain_day_idx ON aggregate_reports (tenant_id, domain, day);
