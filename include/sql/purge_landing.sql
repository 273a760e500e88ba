-- Drop landed payloads of other runs: once staged, the ledger row holds the payload.
DELETE FROM divvy_landing WHERE run_id <> :keep_run_id
