-- Aggregation adds to a counter row again and again (the same source, domain and day across reports): with room left
-- on its page, PostgreSQL rewrites it in place of the old version without touching the primary key index (a HOT
-- update; no indexed column changes). Full pages (fillfactor 100) made 95 % of these updates add an index entry.
-- Applies to pages written from now on.
ALTER TABLE aggregate_counters SET (fillfactor = 75);
ALTER TABLE aggregate_domain_days SET (fillfactor = 75);
