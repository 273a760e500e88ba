-- Rows left 'posting' by a load that stopped before recording Intacct's answer, which this load
-- may now resolve: claims whose lease has expired, claims written before claims had owners, and
-- claims of an earlier attempt of this same run (Airflow runs one attempt of a task at a time).
-- A live claim of another run is never touched. The new owner and lease are written in the same
-- statement, so two loads cannot both take the same row over.
WITH candidate AS (
    SELECT uuid
    FROM divvy_transaction
    WHERE state = 'posting'
    FOR UPDATE SKIP LOCKED -- postgresql only
)
UPDATE divvy_transaction
SET claim_run_id = :run_id,
    claim_owner = :owner,
    claim_expires_at = :lease_until,
    updated_at = :now
WHERE state = 'posting'
  AND (
      claim_owner IS NULL
      OR claim_expires_at IS NULL
      OR claim_expires_at < :now
      OR (claim_run_id = :run_id AND claim_owner <> :owner)
  )
  AND uuid IN (SELECT uuid FROM candidate)
RETURNING uuid
