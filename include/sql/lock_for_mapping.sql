-- Before the map step writes a page of verdicts: which of its transactions (the posting-order
-- range it read) may still be re-mapped, locked until the verdicts are committed (on SQLite the
-- write transaction's database lock does the same). A row missing here was claimed by a load or
-- re-staged meanwhile; it is then saved on its own, under update_mapping_state.sql's guard.
SELECT uuid, state
FROM divvy_transaction
WHERE state IN ('ready', 'unmapped', 'failed')
  AND (posting_date, uuid) >= (:first_date, :first_uuid)
  AND (posting_date, uuid) <= (:last_date, :last_uuid)
FOR UPDATE -- postgresql only
