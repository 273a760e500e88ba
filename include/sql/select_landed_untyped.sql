-- This run's landed payloads whose transactionType the landing does not hold (landed by a
-- version without the column), to be counted from the payload.
SELECT payload
FROM divvy_landing
WHERE run_id = :run_id
  AND transaction_type IS NULL
