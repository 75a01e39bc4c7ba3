-- Tenant configuration written through the API (libs/tenant-admin): each domain's DMARC policy, its approved
-- sending sources, the tenant's users and their permissions, a label on API keys, and the outbox of
-- dmarc.config.changes. Every write also appends to audit_log in the same transaction.

-- The DMARC policy a tenant wants for a domain (what the dashboard compares reports against), one row per
-- domain, gone with the domain. version counts the writes, so a change event says which one it carries.
CREATE TABLE domain_policies (
  domain_id uuid PRIMARY KEY REFERENCES domains (id) ON DELETE CASCADE,
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  p text NOT NULL CHECK (p IN ('none', 'quarantine', 'reject')),
  sp text CHECK (sp IN ('none', 'quarantine', 'reject')),
  pct smallint NOT NULL CHECK (pct BETWEEN 0 AND 100),
  adkim text NOT NULL CHECK (adkim IN ('r', 's')),
  aspf text NOT NULL CHECK (aspf IN ('r', 's')),
  version bigint NOT NULL CHECK (version > 0),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Sending sources a tenant approved for a domain: an IP address, a CIDR block, or a host name (an SPF
-- include or a provider's domain), stored in canonical form so one source is one row.
CREATE TABLE approved_sources (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  domain_id uuid NOT NULL REFERENCES domains (id) ON DELETE CASCADE,
  kind text NOT NULL CHECK (kind IN ('ip', 'cidr', 'host')),
  source text NOT NULL CHECK (source <> ''),
  description text,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (domain_id, source)
);
CREATE INDEX approved_sources_tenant_id_idx ON approved_sources (tenant_id);

-- People of a tenant and what they may do. Permissions are a small fixed vocabulary checked by the API
-- (libs/tenant-admin PERMISSIONS), kept as an array: they are read and replaced whole.
CREATE TABLE tenant_users (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  email text NOT NULL CHECK (email <> '' AND email = lower(email)),
  name text,
  permissions text[] NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, email)
);

-- What a key is for ("ci", "dashboard"), so its owner can tell keys apart; only the hash identifies it.
ALTER TABLE api_keys ADD COLUMN label text;

-- The outbox of dmarc.config.changes: written in the transaction of the change it describes, published
-- afterwards by the relay in id order and marked. A crash or a failed publish between the two leaves the
-- row unpublished, and the next relay pass sends it: never lost, at worst sent twice (same event_id).
-- No foreign key to tenants: like audit_log, it describes what may be gone.
CREATE TABLE config_changes (
  id bigserial PRIMARY KEY,
  event_id uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
  tenant_id uuid NOT NULL,
  domain text,
  kind text NOT NULL,
  entity text NOT NULL,
  user_id uuid,
  version bigint,
  actor text NOT NULL,
  before jsonb,
  after jsonb,
  at timestamptz NOT NULL DEFAULT now(),
  published_at timestamptz
);
CREATE INDEX config_changes_unpublished_idx ON config_changes (id) WHERE published_at IS NULL;
