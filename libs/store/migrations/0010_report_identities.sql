-- The same report (same policy domain, org name and report id) can arrive through different bytes: a
-- reporter re-sends it, zipped once and gzipped once, or inside another e-mail. The first raw report
-- to claim an identity owns it; later ones are published as duplicates and never counted.
CREATE TABLE report_identities (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  identity text NOT NULL,
  report_id text NOT NULL,
  claimed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, identity)
);
