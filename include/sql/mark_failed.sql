-- Intacct rejected the transaction (e.g. closed period): nothing was created, keep the message.
UPDATE divvy_transaction
SET state = 'failed',
    state_reason = :error,
    last_error = :error,
    updated_at = :now
WHERE uuid = :uuid
  AND state = 'posting'
