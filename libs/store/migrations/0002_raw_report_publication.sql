-- Ingestion stores the raw bytes first and publishes second. published_at says the second step
-- happened, so a redelivered inbound message whose first try crashed in between is published again
-- instead of being mistaken for a duplicate and lost.
ALTER TABLE raw_reports ADD COLUMN published_at timestamptz;
-- Where the report came from: http, the inbound topic, the command line.
ALTER TABLE raw_reports ADD COLUMN source text;
