-- A 'posting' row that a lookup proved absent from Intacct goes back to 'ready'.
UPDATE divvy_transaction
SET state = 'ready',
    state_reason = :reason,
    updated_at = :now
WHERE uuid = :uuid
  AND state = 'posting'
