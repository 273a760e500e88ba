-- Closed periods, policy 'post_to_first_open_day': the date sent to Intacct (posting_date) moves
-- to the first open day and the purchase date is kept in original_posting_date; with
-- original_posting_date set to NULL the re-dating is undone (the period reopened, or the policy
-- changed). Reference number and attempt are untouched, so the control ID stays the one exactly
-- once expects. From 'ready' before the load claims, or from 'failed' when Intacct refused the
-- date (the load then sends it again, as its next attempt).
UPDATE divvy_transaction
SET state = 'ready',
    posting_date = :posting_date,
    original_posting_date = :original_posting_date,
    state_reason = :reason,
    updated_at = :now
WHERE uuid = :uuid
  AND state IN ('ready', 'failed')
