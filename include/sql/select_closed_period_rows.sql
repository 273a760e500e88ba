-- What the closed-period step (intacct_hook/sync/closed_periods.py) decides before the load
-- claims anything: ready transactions dated on or before the books-closed date (an empty
-- closed_through, the date unknown, matches none), ready ones it re-dated earlier, and the ones
-- it holds for a closed period (their reason starts with the hold prefix). Each part is read on an
-- index (state and date; the re-dated index; state); never the payload.
SELECT uuid, state, posting_date, original_posting_date
FROM divvy_transaction
WHERE state = 'ready'
  AND posting_date <= :closed_through
UNION
SELECT uuid, state, posting_date, original_posting_date
FROM divvy_transaction
WHERE original_posting_date IS NOT NULL
  AND state = 'ready'
UNION
SELECT uuid, state, posting_date, original_posting_date
FROM divvy_transaction
WHERE state = 'held'
  AND SUBSTR(state_reason, 1, :prefix_length) = :hold_prefix
ORDER BY posting_date, uuid
