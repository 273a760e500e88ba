-- Re-coding: Divvy changed a transaction again while its change waited for a closed period
-- (closed_period_policy 'hold' or 'fail': nothing of it sent). The waiting change takes the newer
-- version (status 'reversing'), or is withdrawn (status 'reported', kept with why) when Divvy
-- changed it back to the version posted. Only while it still waits as the run read it.
UPDATE recoding
SET divvy_updated_time = :divvy_updated_time, change = :change, status = :status,
    replacement_reference = :replacement_reference, replacement_date = :replacement_date,
    purchase_date = :purchase_date, replacement_amount = :replacement_amount,
    replacement_lines = :replacement_lines, transaction_type = :transaction_type,
    merchant = :merchant, last_error = :last_error, run_id = :run_id, updated_at = :now
WHERE uuid = :uuid AND seq = :seq AND status = 'reversing' AND last_error = :waited
