-- Drop the differences of a run and date before writing them again (task retries).
DELETE FROM reconciliation_difference
WHERE run_id = :run_id
  AND posting_date = :posting_date
