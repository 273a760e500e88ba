-- Intacct accepted (or already had) the transaction. Repeating the same call is harmless.
UPDATE divvy_transaction
SET state = 'posted',
    state_reason = NULL,
    intacct_record_no = :record_no,
    control_id = :control_id,
    last_error = NULL,
    posted_at = COALESCE(posted_at, :now),
    updated_at = :now
WHERE uuid = :uuid
  AND (state = 'posting' OR (state = 'posted' AND intacct_record_no = :record_no))
