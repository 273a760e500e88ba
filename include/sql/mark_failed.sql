-- Intacct rejected the transaction (e.g. closed period): nothing was created, keep the message.
-- The count gives the next attempt a new control ID: whether Intacct's uniqueid check also
-- remembers failed functions is not documented, and a retry must not be refused as a duplicate.
UPDATE divvy_transaction
SET state = 'failed',
    failed_attempts = failed_attempts + 1,
    state_reason = :error,
    last_error = :error,
    updated_at = :now
WHERE uuid = :uuid
  AND state = 'posting'
