-- Reconcile: every change that left records in Intacct (re-coding, sync/recoding.py): the
-- original and its reversal are expected by RECORDNO, and a re-posted transaction is expected
-- under its replacement's reference number. The table holds one row per change: it is small.
SELECT uuid, seq, status, original_reference, original_record_no, original_date,
       original_amount, reversal_date, reversal_record_no, replacement_reference,
       replacement_record_no
FROM recoding
WHERE status IN ('reversed', 'replaced', 'done')
ORDER BY uuid, seq
