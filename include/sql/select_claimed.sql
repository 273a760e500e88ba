-- The rows one load attempt holds (after claim_for_posting or take_over_claims).
SELECT t.uuid, t.transaction_type, t.amount, t.occurred_time, t.posting_date, t.updated_time,
       t.merchant, p.raw_payload, t.state, t.state_reason, t.intacct_record_no, t.control_id,
       t.last_error, t.failed_attempts, t.first_run_id, t.last_run_id, t.staged_at, t.updated_at,
       t.posted_at
FROM divvy_transaction AS t
LEFT JOIN divvy_payload AS p ON p.uuid = t.uuid
WHERE t.uuid IN :uuids
  AND t.state = 'posting'
  AND t.claim_owner = :owner
ORDER BY t.posting_date, t.uuid
