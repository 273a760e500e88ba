-- A 'posting' row that a lookup proved absent from Intacct (or that cannot be sent yet) goes back
-- to 'ready'. Only the owner of the claim may release it.
UPDATE divvy_transaction
SET state = 'ready',
    state_reason = :reason,
    claim_run_id = NULL,
    claim_owner = NULL,
    claim_expires_at = NULL,
    updated_at = :now
WHERE uuid = :uuid
  AND state = 'posting'
  AND claim_owner = :owner
