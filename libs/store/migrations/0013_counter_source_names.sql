-- What the DNS service found for a counter row's source IP (dmarc.reports.enriched `sources`): its PTR
-- name and that name's base domain (public suffix + 1). Kept on the counter row itself, which the same
-- upsert already writes, rather than in a table of its own (a second write per source, a million for one
-- large report). Null when the chunk came from dmarc.reports.parsed (no DNS service) or the lookup found
-- nothing; a later chunk without a name never erases one.
ALTER TABLE aggregate_counters ADD COLUMN source_ptr text, ADD COLUMN source_base_domain text;
