-- Each domain's totals per day, kept by aggregation in the statement that writes the counters (so always equal
-- to the sum of the domain's counters of that day): the threat rules read a report day or a week of baseline
-- as a few rows instead of summing every source's counters on every pass. `failing` is messages that did not
-- pass DMARC (messages - dmarc_pass).
CREATE TABLE aggregate_domain_days (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  domain text NOT NULL,
  day date NOT NULL,
  messages bigint NOT NULL DEFAULT 0 CHECK (messages >= 0),
  failing bigint NOT NULL DEFAULT 0 CHECK (failing >= 0),
  PRIMARY KEY (tenant_id, domain, day)
);

-- The counters written before this migration.
INSERT INTO aggregate_domain_days (tenant_id, domain, day, messages, failing)
SELECT c.tenant_id, c.domain, c.day, sum(c.messages), sum(c.messages - c.dmarc_pass)
  FROM aggregate_counters c JOIN tenants t ON t.id = c.tenant_id
 GROUP BY c.tenant_id, c.domain, c.day;
