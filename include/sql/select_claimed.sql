-- The rows one load attempt holds (after claim_for_posting or take_over_claims).
SELECT uuid, transaction_type, amount, occurred_time, posting_date, updated_time, merchant,
       raw_payload, state, state_reason, intacct_record_no, control_id, last_error, failed_attempts,
       first_run_id, last_run_id, staged_at, updated_at, posted_at
FROM divvy_transaction
WHERE uuid IN :uuids
  AND state = 'posting'
  AND claim_owner = :owner
ORDER BY posting_date, uuid
