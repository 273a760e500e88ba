-- Claim up to batch_size ready transactions for one load attempt, atomically, and commit it
-- BEFORE anything is sent: a crash after sending leaves the rows 'posting', never 'ready', so
-- they cannot be sent again without a lookup in Intacct.
-- The claim carries its owner (run and task attempt) and a lease: other runs leave a live claim
-- alone and recover it only once the lease has expired. Concurrent loads take disjoint rows:
-- on PostgreSQL the candidate rows are locked and locked ones skipped (the line marked
-- 'postgresql only' is dropped on SQLite, where the claim runs in an immediate transaction that
-- holds the database's write lock). The candidates are a CTE so that they are chosen once:
-- PostgreSQL may run a LIMIT subquery inside WHERE once per row and claim too many.
WITH candidate AS (
    SELECT uuid
    FROM divvy_transaction
    WHERE state = 'ready'
      -- a row stage re-decided after map coded it waits for the next map (its lines are gone)
      AND EXISTS (SELECT 1 FROM mapped_line WHERE mapped_line.uuid = divvy_transaction.uuid)
    ORDER BY posting_date, uuid
    LIMIT :batch_size
    FOR UPDATE SKIP LOCKED -- postgresql only
)
UPDATE divvy_transaction
SET state = 'posting',
    state_reason = NULL,
    claim_run_id = :run_id,
    claim_owner = :owner,
    claim_expires_at = :lease_until,
    last_run_id = :run_id,
    updated_at = :now
-- The rows are found by primary key; "state || ''" keeps SQLite from walking every ready row
-- of the state index instead and testing each against the batch (a claim cost O(ready rows),
-- a window's claims O(N^2): issue 10). The state is still checked on every row updated.
WHERE uuid IN (SELECT uuid FROM candidate)
  AND state || '' = 'ready'
RETURNING uuid
