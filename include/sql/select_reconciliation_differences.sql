-- The row-level differences found by one run, by posting date.
SELECT run_id, posting_date, diff_no, kind, divvy_uuid, intacct_record_no, divvy_amount,
       intacct_amount, detail
FROM reconciliation_difference
WHERE run_id = :run_id
ORDER BY posting_date, diff_no
