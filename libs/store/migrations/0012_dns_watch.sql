-- DNS watch (libs/dns-watch): the DKIM selectors seen in reports, the last observed DMARC / SPF / DKIM
-- record of every watched name per tenant, and the changes found, kept until they are published on
-- dmarc.dns.changes (an outbox: a crash between the write and the publish republishes, never loses).

-- DKIM selectors seen in aggregate reports, per tenant and signing domain. Written once per report chunk
-- by the DNS service; last_seen_at lets the watcher stop looking at selectors nobody signs with any more.
CREATE TABLE dkim_selectors (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  -- Lower-case without a trailing dot, like domains.name.
  domain text NOT NULL CHECK (domain <> '' AND domain = lower(domain) AND right(domain, 1) <> '.'),
  selector text NOT NULL CHECK (selector <> '' AND selector = lower(selector)),
  first_seen_at timestamptz NOT NULL,
  last_seen_at timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, domain, selector)
);

-- One row per tenant and watched name. A row without checked_at was never answered (only failures so
-- far): its first answer is a first observation, not a change.
CREATE TABLE dns_watch_state (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  domain text NOT NULL,
  record_type text NOT NULL CHECK (record_type IN ('DMARC', 'SPF', 'DKIM')),
  -- The name queried: _dmarc.<domain>, <domain>, or <selector>._domainkey.<domain>.
  name text NOT NULL,
  selector text,
  -- The record as last answered, normalised (whitespace collapsed; several matching records sorted, one per
  -- line); null when the name had none (NXDOMAIN, NODATA, no matching TXT).
  value text,
  -- Last answer from DNS; an upstream failure does not move it.
  checked_at timestamptz,
  -- When value took its current value (first observation or last change).
  changed_at timestamptz,
  next_check_at timestamptz NOT NULL,
  -- Set while lookups of this name fail, so an outage is logged once, not every round.
  failing_since timestamptz,
  -- Bumped by every write; a write names the revision it read, so two watchers racing on one name
  -- (two replicas) cannot both record, and publish, the same change.
  revision bigint NOT NULL CHECK (revision > 0),
  PRIMARY KEY (tenant_id, domain, record_type, name)
);
CREATE INDEX dns_watch_state_next_check_at_idx ON dns_watch_state (next_check_at);

-- Every change found, written by the same statement as the state it moved to; published_at is set once
-- dmarc.dns.changes has it. Also the history of a domain's records.
CREATE TABLE dns_changes (
  id bigserial PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  domain text NOT NULL,
  record_type text NOT NULL CHECK (record_type IN ('DMARC', 'SPF', 'DKIM')),
  name text NOT NULL,
  selector text,
  change text NOT NULL CHECK (change IN ('added', 'changed', 'removed')),
  previous text,
  current text,
  detected_at timestamptz NOT NULL,
  published_at timestamptz
);
CREATE INDEX dns_changes_unpublished_idx ON dns_changes (id) WHERE published_at IS NULL;
CREATE INDEX dns_changes_tenant_domain_idx ON dns_changes (tenant_id, domain, detected_at);
