-- Re-coding: a posted transaction Divvy declined or deleted afterwards is reversed and no longer
-- expected in Intacct (same transaction as recoding_reversed).
UPDATE divvy_transaction
SET state = 'skipped', state_reason = :reason, updated_time = :updated_time,
    last_run_id = :run_id, updated_at = :now
WHERE uuid = :uuid AND state = 'posted'
