-- The threat rules now run inside aggregation's flush transaction, whose ledger rows (consumer 'aggregation') are
-- theirs too: the detection ledger's own rows are no longer written, read or pruned.
DELETE FROM processed_messages WHERE consumer = 'threat-detection';
