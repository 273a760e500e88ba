-- Record the map step's verdict (ready or unmapped) on a transaction it may re-map.
UPDATE divvy_transaction
SET state = :state,
    state_reason = :state_reason,
    updated_at = :now
WHERE uuid = :uuid
  AND state IN ('ready', 'unmapped', 'failed')
