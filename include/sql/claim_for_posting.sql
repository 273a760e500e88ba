-- Written BEFORE the request is sent: a ready transaction becomes 'posting'. If the run dies
-- before the outcome is recorded, the row stays 'posting' and the next run looks it up in
-- Intacct instead of sending it again. Only ready rows can be claimed.
UPDATE divvy_transaction
SET state = 'posting',
    state_reason = NULL,
    control_id = :control_id,
    last_run_id = :run_id,
    updated_at = :now
WHERE uuid = :uuid
  AND state = 'ready'
