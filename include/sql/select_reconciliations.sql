-- The reconciliation results of one run, by posting date.
SELECT run_id, posting_date, card_id, divvy_count, divvy_total, intacct_count, intacct_total,
       status, created_at
FROM reconciliation
WHERE run_id = :run_id
ORDER BY posting_date
