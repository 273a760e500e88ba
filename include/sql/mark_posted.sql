-- Intacct accepted (or already had) the transaction. Repeating the same call is harmless.
-- No owner check: Intacct's answer is the truth whoever holds the claim, and a load that lost
-- its lease may still be the one that got the RECORDNO.
UPDATE divvy_transaction
SET state = 'posted',
    state_reason = NULL,
    intacct_record_no = :record_no,
    control_id = :control_id,
    last_error = NULL,
    claim_run_id = NULL,
    claim_owner = NULL,
    claim_expires_at = NULL,
    posted_at = COALESCE(posted_at, :now),
    updated_at = :now
WHERE uuid = :uuid
  AND (state = 'posting' OR (state = 'posted' AND intacct_record_no = :record_no))
