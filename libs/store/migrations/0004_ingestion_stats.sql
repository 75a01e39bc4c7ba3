-- What GET /v1/ingestion/stats reads. Received, parsed and rejected counts come from raw_reports (one
-- row per distinct report); a duplicate submission adds no row there (the dedup key refuses it), so it
-- is counted here instead: one row per tenant and UTC day, upserted, so counting costs one small write.
CREATE TABLE ingestion_daily_counts (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  day date NOT NULL,
  duplicates bigint NOT NULL DEFAULT 0 CHECK (duplicates >= 0),
  PRIMARY KEY (tenant_id, day)
);

-- Per-day counts read one tenant's reports over a window of received_at.
CREATE INDEX raw_reports_tenant_received_at_idx ON raw_reports (tenant_id, received_at);

-- The processing lag reads the oldest report still in flight. Partial, so it holds only the few rows
-- not yet aggregated or failed and stays small however many reports are done.
CREATE INDEX raw_reports_tenant_in_flight_idx ON raw_reports (tenant_id, received_at)
  WHERE status IN ('received', 'parsed', 'enriched');
