-- Closed periods: a transaction held for a closed period (its reason starts with the hold prefix)
-- whose date is open again, or whose books-closed date cannot be read (tried again each run),
-- is ready once more with its mapped lines; a reason another step wrote is never released here.
UPDATE divvy_transaction
SET state = 'ready',
    state_reason = :reason,
    updated_at = :now
WHERE uuid = :uuid
  AND state = 'held'
  AND SUBSTR(state_reason, 1, :prefix_length) = :hold_prefix
