-- Stage one Divvy transaction, keyed on its uuid: a new uuid is inserted, a known one updated.
-- A row that is being posted or is posted is left exactly as it is (state, Intacct RECORDNO,
-- control ID, payload): re-extracting it must never make it postable again.
-- A failed, held, unmapped, ready or skipped row takes the state decided by this staging;
-- its last_error is kept for the record until the next posting attempt. But a row whose Divvy
-- data (its divvy_payload) has not changed keeps the map step's verdict (ready with its lines,
-- unmapped, failed) when staging would only say 'ready' again: runs overlap, and another run
-- re-reading the same data must not undo this run's map between its map and its load.
-- The JSON itself is written next, by stage_payload.sql (a row without one counts as changed).
INSERT INTO divvy_transaction (
    uuid, transaction_type, amount, occurred_time, posting_date, updated_time, merchant,
    state, state_reason, first_run_id, last_run_id, staged_at, updated_at
) VALUES (
    :uuid, :transaction_type, :amount, :occurred_time, :posting_date, :updated_time, :merchant,
    :state, :state_reason, :run_id, :run_id, :now, :now
)
ON CONFLICT (uuid) DO UPDATE SET
    transaction_type = excluded.transaction_type,
    amount           = excluded.amount,
    occurred_time    = excluded.occurred_time,
    posting_date     = excluded.posting_date,
    updated_time     = excluded.updated_time,
    merchant         = excluded.merchant,
    state            = excluded.state,
    state_reason     = excluded.state_reason,
    last_run_id      = excluded.last_run_id,
    updated_at       = excluded.updated_at
WHERE divvy_transaction.state NOT IN ('posting', 'posted')
  AND NOT (
      COALESCE(
          (SELECT p.raw_payload FROM divvy_payload AS p WHERE p.uuid = divvy_transaction.uuid), ''
      ) = :raw_payload
      AND (
          divvy_transaction.state = excluded.state
          OR (excluded.state = 'ready' AND divvy_transaction.state IN ('unmapped', 'failed'))
      )
  )
