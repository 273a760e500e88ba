-- Closed periods, policy 'hold' (intacct_hook/sync/closed_periods.py): a transaction dated in a
-- closed period waits, with the reason, until the period reopens. It keeps its mapped lines (a
-- release makes it ready as it was) and goes back to its purchase date if it had been re-dated.
-- From 'ready' before the load claims, or from 'failed' when Intacct refused it as a closed
-- period; never a row a load is sending or has posted.
UPDATE divvy_transaction
SET state = 'held',
    state_reason = :reason,
    posting_date = :posting_date,
    original_posting_date = NULL,
    updated_at = :now
WHERE uuid = :uuid
  AND state IN ('ready', 'failed')
