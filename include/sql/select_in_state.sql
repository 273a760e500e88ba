-- Transactions in the given states with a posting date in [date_from, date_to].
SELECT t.uuid, t.transaction_type, t.amount, t.occurred_time, t.posting_date, t.updated_time,
       t.merchant, p.raw_payload, t.state, t.state_reason, t.intacct_record_no, t.control_id,
       t.last_error, t.failed_attempts, t.first_run_id, t.last_run_id, t.staged_at, t.updated_at,
       t.posted_at
FROM divvy_transaction AS t
LEFT JOIN divvy_payload AS p ON p.uuid = t.uuid
WHERE t.state IN :states
  AND t.posting_date >= :date_from
  AND t.posting_date <= :date_to
ORDER BY t.posting_date, t.uuid
