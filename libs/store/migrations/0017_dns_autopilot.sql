-- DNS autopilot (libs/dns-update): domains whose DMARC record the platform writes itself, and the durable
-- queue of those writes. An approved policy change of an opted-in domain becomes a job in the transaction
-- that commits the change (the trigger below), so no change can be committed and its DNS write lost; the
-- worker of the dns service applies, verifies, retries and, after its last attempt, alerts.

-- One row per opted-in domain: where its zone's primary is and the TSIG key it accepts updates signed with.
-- The secret is never returned by the API. Gone with the domain.
CREATE TABLE dns_autopilot (
  domain_id uuid PRIMARY KEY REFERENCES domains (id) ON DELETE CASCADE,
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  provider text NOT NULL CHECK (provider IN ('rfc2136')),
  -- An IP literal: resolving the primary through DNS would make the DNS write depend on DNS.
  server_host text NOT NULL CHECK (server_host <> ''),
  server_port integer NOT NULL CHECK (server_port BETWEEN 1 AND 65535),
  zone text NOT NULL CHECK (zone <> '' AND zone = lower(zone) AND right(zone, 1) <> '.'),
  tsig_key_name text NOT NULL CHECK (tsig_key_name <> ''),
  tsig_algorithm text NOT NULL CHECK (tsig_algorithm IN ('hmac-sha256', 'hmac-sha384', 'hmac-sha512')),
  -- Base64, as named.conf writes it.
  tsig_secret text NOT NULL CHECK (tsig_secret <> ''),
  record_ttl integer NOT NULL CHECK (record_ttl BETWEEN 60 AND 86400),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dns_autopilot_tenant_id_idx ON dns_autopilot (tenant_id);

-- One write of a domain's DMARC record. pending (due at next_attempt_at; lease_until while a worker holds
-- it, so a job whose worker died goes to another once the lease ends) -> applied (the server accepted the
-- update) -> verified (read back from the server, audited). failed: the last attempt failed, or the error
-- cannot pass by retrying; alerted_at says the alert went out. superseded: a newer approved change of the
-- domain came before this one was written. cancelled: the domain opted out first. Jobs of one domain are
-- written one at a time, in id order.
CREATE TABLE dns_update_jobs (
  id bigserial PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  domain_id uuid NOT NULL REFERENCES domains (id) ON DELETE CASCADE,
  domain text NOT NULL,
  -- The approved policy as the change event carries it (p, sp, pct, adkim, aspf, version), and who approved it.
  policy jsonb NOT NULL,
  policy_version bigint,
  requested_by text NOT NULL,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'applied', 'verified', 'failed', 'superseded', 'cancelled')),
  attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  lease_until timestamptz,
  -- The TXT text written (set once an attempt has built it).
  record text,
  last_error_code text,
  last_error text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  applied_at timestamptz,
  verified_at timestamptz,
  finished_at timestamptz,
  alerted_at timestamptz
);
CREATE INDEX dns_update_jobs_due_idx ON dns_update_jobs (next_attempt_at) WHERE status IN ('pending', 'applied');
CREATE INDEX dns_update_jobs_domain_id_idx ON dns_update_jobs (domain_id, id);
CREATE INDEX dns_update_jobs_unalerted_idx ON dns_update_jobs (id) WHERE status = 'failed' AND alerted_at IS NULL;

-- Every committed policy change writes its outbox row (libs/tenant-admin recordConfigChange) in its own
-- transaction; this turns that row into a job for an opted-in domain, in the same transaction.
CREATE FUNCTION dns_autopilot_enqueue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO dns_update_jobs (tenant_id, domain_id, domain, policy, policy_version, requested_by)
  SELECT a.tenant_id, a.domain_id, NEW.domain, NEW.after, NEW.version, NEW.actor
    FROM dns_autopilot a JOIN domains d ON d.id = a.domain_id
   WHERE d.tenant_id = NEW.tenant_id AND d.name = NEW.domain;
  RETURN NULL;
END
$$;
CREATE TRIGGER config_changes_dns_autopilot
  AFTER INSERT ON config_changes
  FOR EACH ROW WHEN (NEW.kind = 'policy_changed' AND NEW.after IS NOT NULL)
  EXECUTE FUNCTION dns_autopilot_enqueue();
