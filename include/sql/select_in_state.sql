-- Transactions in the given states with a posting date in [date_from, date_to].
SELECT uuid, transaction_type, amount, occurred_time, posting_date, updated_time, merchant,
       raw_payload, state, state_reason, intacct_record_no, control_id, last_error, failed_attempts,
       first_run_id, last_run_id, staged_at, updated_at, posted_at
FROM divvy_transaction
WHERE state IN :states
  AND posting_date >= :date_from
  AND posting_date <= :date_to
ORDER BY posting_date, uuid
