-- Threat alerts (libs/threat-detection): the alerts themselves, which are also the outbox of dmarc.alerts,
-- each tenant's rule settings, and the sending sources already seen per domain (the memory of the
-- new-source rule). Alerts are never cached (TTL 0): every read comes from here.

-- One row per alert. The unique key is the deduplication: at most one alert per tenant, rule and domain in
-- a window (window_key, the window's start), so a second trigger in the window, or a redelivery of the
-- message that triggered the first, inserts nothing (ON CONFLICT DO NOTHING). published_at is null until
-- dmarc.alerts has it: published right after the commit, and by the relay after a crash or a broker outage.
-- No foreign key on domain: the alert outlives the domain's removal, like the audit trail.
CREATE TABLE alerts (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  domain text NOT NULL CHECK (domain <> '' AND domain = lower(domain)),
  -- Not a fixed list: rules are added (dns_update_failed) without a migration; the code checks the name.
  rule text NOT NULL CHECK (rule ~ '^[a-z][a-z0-9_]*$'),
  severity text NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
  window_key text NOT NULL,
  window_start timestamptz NOT NULL,
  window_end timestamptz NOT NULL CHECK (window_end > window_start),
  title text NOT NULL,
  summary text NOT NULL,
  evidence jsonb NOT NULL,
  -- W3C trace id of the message that triggered the alert, and its whole traceparent, so a re-publication
  -- by the relay continues the same trace.
  trace_id text,
  traceparent text,
  detected_at timestamptz NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  published_at timestamptz,
  UNIQUE (tenant_id, rule, domain, window_key)
);
-- GET /v1/alerts: a tenant's newest first, optionally of one domain.
CREATE INDEX alerts_tenant_detected_idx ON alerts (tenant_id, detected_at DESC, id DESC);
-- The relay's work list stays small: only what is not on the topic yet.
CREATE INDEX alerts_unpublished_idx ON alerts (created_at) WHERE published_at IS NULL;

-- A tenant's settings of one rule; a rule without a row runs enabled with the default thresholds.
-- thresholds holds only what the tenant set (validated by the API), merged over the defaults when read,
-- so a better default reaches every tenant who did not choose otherwise.
CREATE TABLE alert_rules (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  rule text NOT NULL CHECK (rule ~ '^[a-z][a-z0-9_]*$'),
  enabled boolean NOT NULL DEFAULT true,
  thresholds jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(thresholds) = 'object'),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, rule)
);

-- Sending sources seen for a domain, by the key the new-source rule knows them by (provider:google,
-- domain:example.net, net:203.0.113.0/24). A source is remembered once it sent aligned mail, or once an
-- alert named it; the rest are still new next time.
CREATE TABLE alert_seen_sources (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  domain text NOT NULL,
  source_key text NOT NULL,
  first_ip text,
  first_seen_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, domain, source_key)
);
