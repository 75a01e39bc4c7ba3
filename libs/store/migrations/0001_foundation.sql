-- Foundation tables: tenants and their keys and domains, the audit trail, raw reports as received, and
-- the processed-message ledger idempotent consumers write to.
-- Runs on PostgreSQL 15 and on PGlite (embedded mode and unit tests): core SQL and plpgsql only, no
-- extensions; gen_random_uuid() is built in since PostgreSQL 13.

CREATE TABLE tenants (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name text NOT NULL CHECK (name <> ''),
  -- The tier sets a tenant's cache memory and operations-per-second quota.
  tier text NOT NULL DEFAULT 'starter' CHECK (tier IN ('starter', 'business', 'enterprise')),
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  -- Only a hash is kept: a leaked table must not hand out working keys. Unique so a lookup by hash
  -- finds at most one tenant.
  key_hash text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz
);
CREATE INDEX api_keys_tenant_id_idx ON api_keys (tenant_id);

CREATE TABLE domains (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  -- Stored lower-case without a trailing dot: DNS names are case-insensitive, and one spelling per
  -- domain keeps the unique constraint and the cache keys honest.
  name text NOT NULL CHECK (name <> '' AND name = lower(name) AND right(name, 1) <> '.'),
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, name)
);

-- Every configuration change, with the entity before and after. No foreign key to tenants: the trail
-- must outlive what it describes. tenant_id is null for platform-level actions.
CREATE TABLE audit_log (
  id bigserial PRIMARY KEY,
  tenant_id uuid,
  actor text NOT NULL,
  action text NOT NULL,
  entity text NOT NULL,
  before jsonb,
  after jsonb,
  at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_tenant_id_at_idx ON audit_log (tenant_id, at);

-- Append-only is enforced in the database, not left to every caller. restrict_violation (23001) is an
-- integrity error, so the store reports it as a non-retriable constraint violation.
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP USING ERRCODE = 'restrict_violation';
END
$$;
CREATE TRIGGER audit_log_no_update_or_delete
  BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

-- Reports as received, before parsing. (tenant_id, sha256) is the deduplication key: the same bytes
-- submitted twice are one report.
CREATE TABLE raw_reports (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  size_bytes integer NOT NULL CHECK (size_bytes >= 0),
  content_type text NOT NULL,
  filename text,
  -- Null once the bytes have been purged by retention; the metadata stays.
  payload bytea,
  -- Where the report is in the pipeline; `failed` reports went to the DLQ and `reason` says why.
  status text NOT NULL DEFAULT 'received'
    CHECK (status IN ('received', 'parsed', 'enriched', 'aggregated', 'failed')),
  reason text,
  received_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, sha256)
);
CREATE INDEX raw_reports_status_received_at_idx ON raw_reports (status, received_at);

-- updated_at maintained by the database, so no UPDATE can forget it.
CREATE FUNCTION set_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END
$$;
CREATE TRIGGER raw_reports_set_updated_at
  BEFORE UPDATE ON raw_reports
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- The ledger that makes at-least-once delivery exactly-once in effect: a consumer inserts the message's
-- key in the same transaction as its effect, and a unique violation on redelivery means "already done".
-- message_id is the message's own id header, or topic/partition/offset when it has none.
CREATE TABLE processed_messages (
  consumer text NOT NULL,
  message_id text NOT NULL,
  topic text,
  kafka_partition integer,
  kafka_offset bigint,
  processed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer, message_id)
);
-- For pruning entries older than any possible redelivery.
CREATE INDEX processed_messages_processed_at_idx ON processed_messages (processed_at);
