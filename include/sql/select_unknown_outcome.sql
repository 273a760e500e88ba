-- Rows left 'posting' by a run that stopped before recording Intacct's answer. The load step
-- resolves each by looking its reference number up in Intacct before anything is re-sent.
SELECT uuid, transaction_type, amount, occurred_time, posting_date, updated_time, merchant,
       raw_payload, state, state_reason, intacct_record_no, control_id, last_error, failed_attempts,
       first_run_id, last_run_id, staged_at, updated_at, posted_at
FROM divvy_transaction
WHERE state = 'posting'
ORDER BY posting_date, uuid
