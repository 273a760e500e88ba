-- Transactions the map step (re)evaluates: newly staged (ready), waiting for a rule (unmapped),
-- and rejected by Intacct (failed), whose coding may have been the cause. Held rows are not
-- here: staging re-decides them each time Divvy returns them.
SELECT uuid, transaction_type, amount, occurred_time, posting_date, updated_time, merchant,
       raw_payload, state, state_reason, intacct_record_no, control_id, last_error, failed_attempts,
       first_run_id, last_run_id, staged_at, updated_at, posted_at
FROM divvy_transaction
WHERE state IN ('ready', 'unmapped', 'failed')
ORDER BY posting_date, uuid
