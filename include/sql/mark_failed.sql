-- Intacct rejected the transaction (e.g. closed period): nothing was created, keep the message.
-- counts_attempt is 1 when Intacct saw the write: the count then gives the next attempt a new
-- control ID (whether Intacct's uniqueid check also remembers failed functions is not
-- documented, and a retry must not be refused as a duplicate). It is 0 for a record that could
-- not even be built, which Intacct never saw.
-- Only the owner of the claim may record the outcome: a load whose lease expired and was taken
-- over must not overwrite what the new owner found.
UPDATE divvy_transaction
SET state = 'failed',
    failed_attempts = failed_attempts + :counts_attempt,
    state_reason = :error,
    last_error = :error,
    claim_run_id = NULL,
    claim_owner = NULL,
    claim_expires_at = NULL,
    updated_at = :now
WHERE uuid = :uuid
  AND state = 'posting'
  AND claim_owner = :owner
